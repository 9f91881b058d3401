"""The runner: run specs, the store's only writer, the worker pool, records-only lookups.

``sweep(specs, store)`` trains every :class:`RunSpec` whose record is missing and appends each
result as soon as it finishes, so a killed sweep loses at most the runs in flight. Branch runs
(a WSD cooldown starting from another run's checkpoint, ``config.init_from``) are run after their
parents; a parent whose checkpoint is gone (a fresh machine) is recreated by training it to the
branch point — the trainer is deterministic, so the checkpoint is the same — without a second record.

:func:`run_pending` trains a chapter's pending runs on worker processes (one torch thread each on a CPU),
under leases in the store so that concurrent sweeps skip each other's runs; :func:`lookup` is the
records-only path; :func:`run_chapter` is the common body of every chapter's ``run``.
:mod:`scalelab.sweep` is the command line over these; :mod:`scalelab.batched` is pure compute
(K same-shape models trained together), whose records are written here.

Any ``concurrent.futures``-style executor works for :func:`sweep` (a local process pool, ``submitit`` on
Slurm, ``dask.distributed``); :mod:`scalelab.executors` has the ones whose workers return records.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import logging
import math
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from scalelab import anchors, batched
from scalelab.chapter import takes_records
from scalelab.data import load_corpus
from scalelab.model import GPT
from scalelab.paths import build_dir, results_path
from scalelab.scales import SCALES
from scalelab.store import LEASE_TTL_S, RunStore, config_key, make_record, run_key
from scalelab.train import DEVICES, TrainConfig, resolve_device, train


@dataclass(frozen=True)
class RunSpec:
    """One run of a chapter experiment: a name, a config, and the experiment's version."""

    experiment: str
    config: TrainConfig
    version: int = 1

    @property
    def config_dict(self) -> dict:
        return self.config.to_dict()

    @property
    def config_key(self) -> str:
        return config_key(self.experiment, self.version, self.config_dict)

    def key(self, corpus: dict) -> str:
        return run_key(self.experiment, self.version, self.config_dict, corpus)


class MissingRecordsError(RuntimeError):
    """Records-only mode found runs without records; the message lists them and the fix."""


def ckpt_root() -> Path:

    return build_dir() / "ckpt"


def _corpus_fp(name: str) -> dict:

    return load_corpus(name).fingerprint


class CorpusMismatchError(RuntimeError):
    """A store's records were made on another corpus than this interpreter's; the message names the choices."""


OWN_STORE_ENV = "SCALELAB_OWN_CORPUS_STORE"
ALLOW_CPU_ENV = "SCALELAB_ALLOW_CPU"
log = logging.getLogger(__name__)


def corpus_label(fp: dict) -> str:
    """A fingerprint in one line: name, sha256 prefix, size."""
    return (f"{fp.get('name', '?')} sha256 {str(fp.get('sha256', '?'))[:12]} ({fp.get('bytes', 0):,} bytes, "
            f"{fp.get('files', '?')} files)")


def own_store_path(path: str | Path, fp: dict) -> Path:
    """The store of a set trained on corpus ``fp`` beside the store at ``path``: ``<stem>.<sha256[:12]>.jsonl``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.{fp['sha256'][:12]}{path.suffix}")


def _throwaway(path: Path) -> bool:
    """Stores under ``_build/`` (smoke records) are build outputs; the others are committed results."""

    try:
        Path(path).resolve().relative_to(build_dir().resolve())
    except ValueError:
        return False
    return True


def training_store(store: RunStore, fingerprints: list[dict], *, own: bool | None = None,
                   dry_run: bool = False) -> RunStore:
    """The store runs on the local corpus (``fingerprints``) are trained into and counted in.

    The training identity of a run is (config, corpus fingerprint). When ``store`` holds records made on
    this corpus, or none, it is the store. When all its records were made on another corpus:

    * a build output (smoke records under ``_build/``) keeps only this corpus: the other corpus's records
      are moved, with their history, to :func:`own_store_path` of their fingerprint (never deleted);
    * a committed store is left as it is: with ``own`` (or ``SCALELAB_OWN_CORPUS_STORE=1``) the runs train
      into a separate store named after this corpus's fingerprint; without it training is refused before
      any compute (:class:`CorpusMismatchError`), naming both choices.

    ``dry_run`` (status) decides the same way but moves nothing and raises nothing: it returns the store
    training would use, the separate one when it would refuse.

    Raises:
        CorpusMismatchError: as above.
    """
    local = [fp for i, fp in enumerate(fingerprints) if fp not in fingerprints[:i]]
    corpora = store.corpora()
    foreign = [(fp, n) for fp, n in corpora if fp not in local]
    if not foreign or len(local) != 1:
        return store
    if _throwaway(store.path):
        if not dry_run:
            moved = store.set_aside(lambda r: r.get("corpus") in local, lambda fp: own_store_path(store.path, fp))
            log.warning("%s: %d records made on another corpus moved beside it (this corpus: %s)", store.path,
                        moved, corpus_label(local[0]))
        return store
    if any(fp in local for fp, _ in corpora):
        return store  # this corpus already trains here
    own = os.environ.get(OWN_STORE_ENV, "") not in ("", "0") if own is None else own
    separate = RunStore(own_store_path(store.path, local[0]))
    if own or dry_run:
        return separate
    made = "; ".join(f"{n} on {corpus_label(fp)}" for fp, n in foreign)
    have = len(separate.records())
    raise CorpusMismatchError(
        f"{store.path} holds records made on another corpus ({made}); this interpreter's corpus is "
        f"{corpus_label(local[0])} (a different Python or standard library gives a different corpus). Nothing "
        "was trained. Choose one:\n"
        "  * render the committed records: records_only=True (papermill -p records_only True; "
        "make book);\n"
        f"  * train a separate set on this corpus into {separate.path}"
        + (f" (it holds {have} records)" if have else "")
        + f": set {OWN_STORE_ENV}=1, or pass --own-corpus-store to python -m scalelab.sweep.")


def recorded(specs: list[RunSpec], store: RunStore) -> dict[str, dict]:
    """config_key → record for the specs recorded on the local corpus: the training identity (config, corpus
    fingerprint) that the sweep's status, its pending list and every run agree on."""
    by_fp: dict[str, dict] = {}
    out: dict[str, dict] = {}
    for s in specs:
        fp = _corpus_fp(s.config.corpus)
        sha = fp.get("sha256", "")
        if sha not in by_fp:
            by_fp[sha] = store.by_config_key(corpus=fp)
        if s.config_key in by_fp[sha]:
            out[s.config_key] = by_fp[sha][s.config_key]
    return out


class _Leases:
    """This process's leases on runs of a store, renewed by a daemon thread until :meth:`close`."""

    def __init__(self, store: RunStore, ttl_s: float = LEASE_TTL_S) -> None:
        self.store, self.ttl_s, self.held = store, ttl_s, set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, key: str, fresh: bool = True) -> bool:
        if not self.store.claim(key, ttl_s=self.ttl_s, unless_recorded=fresh):
            return False
        self.held.add(key)
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="scalelab-lease-heartbeat", daemon=True)
            self._thread.start()
        return True

    def release(self, key: str) -> None:
        self.held.discard(key)
        self.store.release([key])

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            try:
                self.store.heartbeat(set(self.held))
            except OSError:  # a store on a vanished disk: the leases lapse, the runs go on
                pass

    def close(self) -> None:
        self._stop.set()
        if self.held:
            self.store.release(set(self.held))
            self.held.clear()


def run_spec(spec: RunSpec, store_path: str, device: str = "auto", init_checkpoint: str | None = None,
             refresh: bool = False) -> dict:
    """Train one spec and append its record (top-level so process pools can pickle it); with ``refresh`` the
    record becomes its key's current record even when one exists (the store keeps the old line)."""
    store = RunStore(store_path)
    corpus = _corpus_fp(spec.config.corpus)
    t0 = time.perf_counter()
    result = train(spec.config, device=device, ckpt_dir=ckpt_root() / spec.config_key[:16],
                   init_checkpoint=init_checkpoint)
    record = make_record(spec.experiment, spec.version, spec.config_dict, corpus, result,
                         time.perf_counter() - t0)
    store.put(record, replace=refresh)
    return record


def _checkpoint_path(parent_ckey: str, step: int) -> Path:
    return ckpt_root() / parent_ckey[:16] / f"step{step}.pt"


def _levels(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """Specs grouped so that every branch comes in a later level than its parent."""
    by_ckey = {s.config_key: s for s in specs}
    depth: dict[str, int] = {}

    def d(s: RunSpec) -> int:
        if s.config_key not in depth:
            parent = s.config.init_from
            depth[s.config_key] = 0 if parent is None or parent not in by_ckey else d(by_ckey[parent]) + 1
        return depth[s.config_key]

    levels: dict[int, list[RunSpec]] = {}
    for s in specs:
        levels.setdefault(d(s), []).append(s)
    return [levels[k] for k in sorted(levels)]


def sweep(
    specs: list[RunSpec],
    store: RunStore,
    *,
    executor=None,
    device: str = "auto",
    refresh: bool = False,
    progress: bool = True,
    batched: bool | None = None,
    parents: list[RunSpec] | None = None,
    _leased: bool = False,
) -> list[dict]:
    """Run what is missing and return the records of all ``specs`` (in their order).

    Args:
        specs: the runs.
        store: where records are read and appended.
        executor: optional ``concurrent.futures``-style executor (``submit`` → future with
            ``result()``); ``None`` runs in this process.
        device: passed to the trainer (not part of a run's key).
        refresh: retrain even when a record exists; the new record becomes its key's current record
            (the old line stays in the store).
        progress: show a tqdm bar.
        batched: train same-shape runs together (:mod:`scalelab.batched`). ``None`` (default)
            batches on CUDA only: on CPU the batched path measured slower than running the
            configs one by one (see the performance page), so it is opt-in there.
        parents: further specs that branches in ``specs`` may start from (to recreate a
            missing checkpoint).

    A run is recorded when the store has a record of its config on this corpus (:func:`recorded`).
    ``store`` is first passed through :func:`training_store` (a store made on another corpus is not
    trained into silently). A run another live process has leased is not trained here: the sweep waits
    for its record (or for the lease to lapse, and then trains it).

    Raises:
        CorpusMismatchError: the store's records were made on another corpus (see :func:`training_store`).
    """
    if not specs:
        return []
    if batched is None:

        batched = resolve_device(device).type == "cuda"
    corpora = {s.config.corpus: _corpus_fp(s.config.corpus) for s in specs}
    store = training_store(store, list(corpora.values()))
    have = recorded(specs, store) if not refresh else {}
    todo = [s for s in specs if s.config_key not in have]
    leases = None if _leased else _Leases(store)
    try:
        _sweep_levels(todo, specs, store, corpora, leases, executor=executor, device=device, refresh=refresh,
                      progress=progress, use_batched=batched, parents=parents)
    finally:
        if leases is not None:
            leases.close()
    recs = {r["key"]: r for r in store.records()}
    return [recs[s.key(corpora[s.config.corpus])] for s in specs if s.key(corpora[s.config.corpus]) in recs]


def _sweep_levels(todo, specs, store, corpora, leases, *, executor, device, refresh, progress, use_batched,
                  parents) -> None:

    def claim(level):
        """The runs of ``level`` this process may train now, and those another live process holds."""
        if leases is None:
            return list(level), []
        mine, theirs = [], []
        for s in level:
            (mine if leases.claim(s.key(corpora[s.config.corpus]), fresh=not refresh) else theirs).append(s)
        if not refresh:  # a run recorded meanwhile by another process is done
            theirs = [s for s in theirs if s.config_key not in recorded([s], store)]
        return mine, theirs

    def done(s):
        if leases is not None:
            leases.release(s.key(corpora[s.config.corpus]))

    bar = tqdm(total=len(todo), disable=not progress or not todo, desc=f"sweep {store.path.name}")
    by_ckey = {s.config_key: s for s in [*specs, *(parents or [])]}
    for level in _levels(todo):
        # A branch of a diverged parent cannot run (there is no checkpoint past the divergence).
        diverged = {r["config_key"] for r in store.records() if r["result"]["status"] == "diverged"}
        skipped = [s for s in level if s.config.init_from in diverged]
        if skipped:
            logging.getLogger(__name__).warning("%d branches skipped: their parent run diverged", len(skipped))
            bar.update(len(skipped))
            level = [s for s in level if s.config.init_from not in diverged]
        # A branch needs its parent's checkpoint; recreate it if this machine lacks it.
        for s in level:
            parent = s.config.init_from
            if parent is not None and not _checkpoint_path(parent, s.config.init_step).exists():
                if parent not in by_ckey:
                    raise ValueError(f"branch {s.config_key[:12]} names parent {parent[:12]} not in this sweep")
                recreate_checkpoint(by_ckey[parent], s.config.init_step, store, device)
        runnable, theirs = claim(level)
        claimed = list(runnable)
        try:
            # the batched path appends plain records, so a refresh trains singly (its records become current)
            if use_batched and executor is None and not refresh:
                runnable = run_batched_groups(runnable, store, device=device, on_done=bar.update)
            if executor is None:
                for s in runnable:
                    run_spec(s, str(store.path), device, _init_ckpt(s), refresh)
                    bar.update(1)
            else:
                futures = [executor.submit(run_spec, s, str(store.path), device, _init_ckpt(s), refresh)
                           for s in runnable]
                for f in futures:
                    f.result()
                    bar.update(1)
        finally:
            for s in claimed:
                done(s)
        if theirs:  # wait for them before the next level: its branches may start from them
            log.warning("%d runs are being trained by another process; waiting for their records", len(theirs))
        while theirs:
            time.sleep(WAIT_POLL_S)
            n = len(theirs)
            mine, theirs = claim(theirs)  # recorded meanwhile: done; lease lapsed: trained here
            bar.update(n - len(theirs) - len(mine))
            for s in mine:
                try:
                    run_spec(s, str(store.path), device, _init_ckpt(s), refresh)
                finally:
                    done(s)
                bar.update(1)
    bar.close()


def recreate_checkpoint(parent: RunSpec, step: int, store: RunStore, device: str = "auto") -> Path:
    """Make the parent's checkpoint at ``step`` on this machine, writing no record for the parent.

    The trainer is deterministic and a step's batch is a pure function of (seed, step), so training the
    parent to ``step`` gives the checkpoint its recorded run saved (or would have saved: ``checkpoint_steps``
    is not part of a run's key, so a branch point added after the parent was recorded is made here). A
    parent with no record yet is trained in full and recorded as usual.
    """
    path = _checkpoint_path(parent.config_key, step)
    corpus = _corpus_fp(parent.config.corpus)
    if store.get(parent.key(corpus)) is None:
        run_spec(parent, str(store.path), device, _init_ckpt(parent))
        if path.exists():
            return path
    if parent.config.init_from is not None and not _checkpoint_path(parent.config.init_from,
                                                                     parent.config.init_step).exists():
        raise ValueError(f"run {parent.config_key[:12]} branches from a checkpoint this machine lacks; "
                         "recreate its parent first")
    # Train to the last checkpoint the parent saves (at least ``step``): its other branches need the earlier
    # ones, and recreating them one by one would retrain the same first steps again and again.
    steps = {*parent.config.checkpoint_steps, step}
    cfg = parent.config.replace(checkpoint_steps=tuple(sorted(steps)))
    train(cfg, device=device, ckpt_dir=ckpt_root() / parent.config_key[:16], init_checkpoint=_init_ckpt(parent),
          stop_at=max(steps))
    return path


WAIT_POLL_S = 2.0  # how often a sweep looks for the records of runs another process is training


def _init_ckpt(s: RunSpec) -> str | None:
    if s.config.init_from is None:
        return None
    return str(_checkpoint_path(s.config.init_from, s.config.init_step))


def lookup(specs: list[RunSpec], store: RunStore, *, command: str = "") -> list[dict]:
    """Records-only: the record of every spec, matched by config (corpus-independent).

    Raises:
        MissingRecordsError: listing the missing runs and ``command``, which produces them.
    """
    have = store.by_config_key()
    missing = [s for s in specs if s.config_key not in have]
    if missing:
        lines = [f"  {s.experiment}: {s.config_key[:12]}" for s in missing[:20]]
        more = f"\n  … and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise MissingRecordsError(
            f"{len(missing)} of {len(specs)} runs have no record in {store.path}:\n" + "\n".join(lines) + more
            + (f"\nProduce them with: {command}" if command else "")
        )
    return [have[s.config_key] for s in specs]


def run_chapter(slug: str, nb: str, specs: list[RunSpec], scale: str, *, device: str = "auto",
                refresh: bool = False, records_only: bool = False, store: RunStore | None = None) -> list[dict]:
    """A chapter's records at ``scale``: trained where missing, or looked up (``records_only``).

    The body :func:`chapter_records` runs for each chapter's stages.

    Raises:
        MissingRecordsError: in records-only mode, naming ``make chapter NB=<nb> SCALE=<scale>``.
    """

    store = store if store is not None else RunStore(results_path(slug, scale))
    if records_only:
        return lookup(specs, store, command=f"make chapter NB={nb} SCALE={scale}")
    # everything that can refuse does so before the first run

    check_scale_device(scale, resolve_device(device).type, specs, allow=None)
    anchors.require_for_chapter(slug)
    store = training_store(store, [_corpus_fp(c) for c in dict.fromkeys(s.config.corpus for s in specs)])
    jobs = default_jobs(device, scale)
    if jobs > 1 and not refresh:
        done = recorded(specs, store)
        run_pending(pending_in_order([s for s in specs if s.config_key not in done]), specs, store,
                    jobs=jobs, device=device)
    return sweep(specs, store, device=device, refresh=refresh)


def validate_parameters(*, scale, seed=0, refresh=False, device="auto", records_only=False) -> None:
    """Check a chapter's notebook parameters (papermill's ``-p``) before any compute.

    Called first by :func:`chapter_records`; papermill passes what it is given (``-p seed notanumber``
    arrives as a string), so a wrong type is refused here with the valid values rather than failing deep
    inside the plan.

    Raises:
        ValueError: naming the parameter, the value given and the valid values.
    """

    problems = []
    if not isinstance(scale, str) or scale not in SCALES:
        problems.append(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(f"seed must be a non-negative integer (0, 1, 2, ...); got {seed!r} ({type(seed).__name__})")
    for name, value in (("refresh", refresh), ("records_only", records_only)):
        if not isinstance(value, bool):
            problems.append(f"{name} must be True or False; got {value!r} ({type(value).__name__})")
    if device not in DEVICES:
        problems.append(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if problems:
        raise ValueError("bad notebook parameter: " + "; ".join(problems))



def chapter_records(mod, scale: str, *, seed: int = 0, device: str = "auto", refresh: bool = False,
                    records_only: bool = False, store: RunStore | None = None) -> list[dict]:
    """A chapter's records at ``scale``: what its notebook analyses, trained where missing or looked up.

    One body for every chapter (a chapter module declares its design; it does not wrap this):

    1. the chapters it reads (``mod.READS``), each by this same function, their first stage plus any later
       stage that is complete;
    2. its first stage (``mod.plan``), trained where missing, or looked up with ``records_only`` (refusing,
       with the command that makes them, when one is missing). A staged design — a plan that takes
       ``records=`` and places later runs on earlier results, like chapter 4's held-out grid — is planned
       again on the records it has until it stops growing;
    3. each later stage its analysis reads (``mod.ANALYSED_STAGES``; none by default: a stage that is planned
       but not yet analysed never reaches ``analyze``), only once every one of its runs is recorded (a sweep
       trains them: ``python -m scalelab.sweep``), so a stage part-way never changes a verdict.

    Raises:
        ValueError: on a bad parameter (before any compute).
        MissingRecordsError: in records-only mode, when a run of a first stage has no record.
    """
    validate_parameters(scale=scale, seed=seed, refresh=refresh, device=device, records_only=records_only)
    out: list[dict] = []
    for slug in getattr(mod, "READS", ()):
        out += chapter_records(importlib.import_module(f"scalelab.experiments.{slug}"), scale, seed=seed,
                               device=device, refresh=refresh, records_only=records_only)
    store = store if store is not None else RunStore(results_path(mod.SLUG, scale))
    nb = mod.NOTEBOOK[:2]
    own: list[dict] = []
    have: set = set()
    while True:
        specs = mod.plan(scale, seed=seed, records=own) if takes_records(mod.plan) else mod.plan(scale, seed=seed)
        rest = [s for s in specs if s.config_key not in have]
        if not rest:
            break
        new = run_chapter(mod.SLUG, nb, rest, scale, device=device, refresh=refresh, records_only=records_only,
                          store=store)
        own += new
        have |= {r.get("config_key") for r in new}
        if not takes_records(mod.plan):
            break
    stage_plans = getattr(mod, "stage_plans", None)
    analysed = set(getattr(mod, "ANALYSED_STAGES", ()))
    if stage_plans is not None and analysed:
        kw = {"records": own} if takes_records(stage_plans) else {}
        for name, specs in list(stage_plans(scale, seed=seed, **kw).items())[1:]:
            if name not in analysed:
                continue
            done = recorded(specs, store)
            if specs and all(s.config_key in done for s in specs):
                fresh = [done[s.config_key] for s in specs if s.config_key not in have]
                own += fresh
                have |= {r.get("config_key") for r in fresh}
    return out + own


def check_scale_device(scale: str, device_type: str | None, specs: list[RunSpec], *, allow: bool | None) -> None:
    """Refuse the gpu scale where its runs would execute on a CPU, before any compute.

    Args:
        scale: the chapter's scale; only ``gpu`` is checked.
        device_type: ``"cuda"`` or ``"cpu"``, of the machine the runs execute on (a cluster's nodes, not the
            login node the command is typed on); ``None`` when it cannot be known here (nothing is refused).
        specs: the runs that would train (for the estimate).
        allow: run anyway (``--allow-cpu``); ``None`` reads ``SCALELAB_ALLOW_CPU``.

    Raises:
        SystemExit: from the CLI's point of view; here a :class:`ScaleDeviceError` naming the estimate and the
            override.
    """
    if scale != "gpu" or device_type != "cpu" or not specs:
        return
    allow = os.environ.get(ALLOW_CPU_ENV, "") not in ("", "0") if allow is None else allow
    if allow:
        return
    hours = sum(estimated_seconds(s.config, "cpu") for s in specs) / 3600.0
    raise ScaleDeviceError(
        f"--scale gpu would train {len(specs)} runs on a CPU: about {hours:,.0f} CPU-hours at the reference CPU "
        f"speed ({REF_FLOPS_PER_S['cpu']:.1e} FLOP/s per run). Nothing was trained. Run it where a CUDA device "
        f"is visible (or through a cluster executor with GPUs), use --scale cpu, or override with --allow-cpu "
        f"({ALLOW_CPU_ENV}=1).")


class ScaleDeviceError(RuntimeError):
    """The gpu scale asked for on a machine whose runs would execute on a CPU."""


def default_jobs(device: str = "auto", scale: str = "cpu") -> int:
    """Worker processes for a chapter's sweep: ``SCALELAB_JOBS`` if set; otherwise one per core on a
    CPU (measured faster than one process using every core: see the performance page) except at
    smoke scale, where starting workers costs more than the runs; one on a GPU (it batches instead)."""


    env = os.environ.get("SCALELAB_JOBS")
    if env:
        try:
            jobs = int(env)
        except ValueError:
            jobs = 0
        if jobs < 1:
            raise ValueError(f"SCALELAB_JOBS must be a positive integer, got {env!r}")
        return jobs
    if scale == "smoke" or resolve_device(device).type != "cpu":
        return 1
    return max(1, os.cpu_count() or 1)


def pending_in_order(pending: list[RunSpec], order: str = "cheapest") -> list[RunSpec]:
    """Roots before branches; roots cheapest first (or costliest first), branches cheapest first."""
    if order not in ("cheapest", "costliest"):
        raise ValueError(f"order must be 'cheapest' or 'costliest', got {order!r}")
    cost = {s.config_key: estimated_flops(s.config) for s in pending}
    roots = sorted((s for s in pending if s.config.init_from is None), key=lambda s: cost[s.config_key],
                   reverse=order == "costliest")
    branches = sorted((s for s in pending if s.config.init_from is not None), key=lambda s: cost[s.config_key])
    return roots + branches


@functools.lru_cache(maxsize=4096)
def _num_params(model_cfg) -> int:


    with torch.device("meta"):
        model = GPT(model_cfg)
    return sum(p.numel() for p in model.parameters())


def estimated_flops(cfg: TrainConfig) -> float:
    """6·N·D for a config's training steps, N counted on the meta device (no memory, no init)."""
    return 6.0 * _num_params(cfg.model) * cfg.tokens_per_step * (cfg.total_steps - cfg.init_step)


# Reference speed for the chapters' compute notes, from chapter 1's cpu records on the 2-core machine (two
# single-thread workers: d_model 128 and 256 at 500 steps took about 60 s and 170 s each, side by side); the
# gpu figure is a rough H100 bf16 guess, not a measurement.
REF_FLOPS_PER_S = {"cpu": 1.1e11, "gpu": 3e13}
REF_STEP_OVERHEAD_S = {"cpu": 0.01, "gpu": 0.01}  # per optimizer step (Python, kernel launches), per machine
EVAL_FACTOR = 1.0 / 3.0  # an evaluation token costs a forward pass: 2N of the 6N FLOPs


def estimated_seconds(cfg: TrainConfig, device: str = "cpu") -> float:
    """Rough wall time of one run on the reference machine (``device``: "cpu" or "gpu"): 6·N·D for the
    training steps plus a forward pass per evaluation token, at :data:`REF_FLOPS_PER_S`, plus a per-step
    overhead. Good to a factor of about 1.5; used for the compute notes and the sweep's time budget.
    """
    if device not in REF_FLOPS_PER_S:
        raise ValueError(f"device must be one of {sorted(REF_FLOPS_PER_S)}, got {device!r}")
    n = _num_params(cfg.model)
    steps = cfg.total_steps - cfg.init_step
    n_evals = 1 + (steps // cfg.eval_every if cfg.eval_every else 0)
    flops = 6.0 * n * cfg.tokens_per_step * steps + EVAL_FACTOR * 6.0 * n * cfg.eval_tokens * n_evals
    return flops / REF_FLOPS_PER_S[device] + steps * REF_STEP_OVERHEAD_S[device]


def _worker_init(threads: int, parent: int | None = None) -> None:

    torch.set_num_threads(threads)
    if parent is not None:
        exit_with_parent(parent)


def exit_with_parent(parent: int) -> None:
    """End this worker when process ``parent`` dies, however it dies (SIGKILL, the OOM killer): on Linux the
    kernel sends SIGKILL (``prctl(PR_SET_PDEATHSIG)``); everywhere a watchdog thread checks the parent pid
    once a second, which also covers a parent that died before the prctl call."""
    if sys.platform.startswith("linux"):
        try:
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="scalelab-parent-watch", daemon=True).start()


def worker_pool(jobs: int, threads: int | None = None):
    """A pool of ``jobs`` spawned worker processes with ``threads`` torch threads each (default: the
    machine's cores divided by ``jobs``). Spawned, not forked: forking a process whose torch thread
    pool is running can deadlock the child. A worker exits when this process dies (:func:`exit_with_parent`),
    so a sweep killed with SIGKILL leaves no orphans."""

    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                               initializer=_worker_init, initargs=(threads, os.getpid()))


def _run_one(spec: RunSpec, store_path: str, device: str, parents: list[RunSpec]) -> str:
    """Worker body: train one spec (recreating a missing parent checkpoint) into the store."""
    sweep([spec], RunStore(store_path), device=device, progress=False, batched=False, parents=parents,
          _leased=True)  # the sweep's main process holds this run's lease
    return spec.config_key


def _ancestors(spec: RunSpec, by_ckey: dict[str, RunSpec]) -> list[RunSpec]:
    out, parent = [], spec.config.init_from
    while parent is not None and parent in by_ckey:
        out.append(by_ckey[parent])
        parent = by_ckey[parent].config.init_from
    return out


def run_pending(pending: list[RunSpec], plan: list[RunSpec], store: RunStore, *, jobs: int = 1,
                device: str = "auto", budget_s: float = math.inf, threads: int | None = None) -> int:
    """Train ``pending`` (in the given order) on ``jobs`` worker processes; return how many ran.

    Runs go to the workers one at a time, so a killed sweep loses only the runs in flight. A
    branch is handed out only once its parent is recorded (a parent that diverged leaves its
    branches pending; :func:`sweep` explains why). Runs another process recorded meanwhile (on this
    corpus: :func:`recorded`) or leased to itself are skipped, so several sweeps may share one store:
    each run is leased (host, pid, heartbeat) before it starts. No run starts when the time spent plus its
    estimate (FLOPs times the slowest seconds-per-FLOP seen so far) would pass ``budget_s``.

    With ``jobs`` > 1 each worker is a fresh (spawned) process with ``threads`` torch threads
    (default: the machine's cores divided by ``jobs``).
    """

    by_ckey = {s.config_key: s for s in plan}
    queue = list(pending)
    t_start = time.perf_counter()
    sec_per_flop: float | None = None
    ran = 0
    pool = worker_pool(jobs, threads) if jobs > 1 else None
    if pool is None and threads:

        torch.set_num_threads(threads)
    in_flight: dict = {}  # future -> (spec, t0)
    leases = _Leases(store)
    rkey = {s.config_key: s.key(_corpus_fp(s.config.corpus)) for s in pending}

    def finished(spec: RunSpec, t0: float) -> None:
        nonlocal sec_per_flop, ran
        dt = time.perf_counter() - t0
        rate = dt / max(estimated_flops(spec.config), 1.0)
        sec_per_flop = rate if sec_per_flop is None else max(sec_per_flop, rate)
        ran += 1
        leases.release(rkey[spec.config_key])
        print(f"[{ran}/{len(pending)}] {spec.config_key[:12]} {dt:.0f} s", flush=True)

    try:
        while True:
            done_now = recorded(queue, store)
            queue = [s for s in queue if s.config_key not in done_now]
            waiting = {s.config_key for s in queue} | {s.config_key for s, _ in in_flight.values()}
            ready = [s for s in queue if s.config.init_from not in waiting]
            stop = started = False
            while ready and len(in_flight) < jobs:
                s = ready.pop(0)
                est = estimated_flops(s.config) * sec_per_flop if sec_per_flop else 0.0
                if time.perf_counter() - t_start + est > budget_s:
                    stop = True
                    break
                if not leases.claim(rkey[s.config_key]):
                    continue  # another live process is training it (or just recorded it)
                queue.remove(s)
                args = (s, str(store.path), device, _ancestors(s, by_ckey))
                if pool is None:
                    t0 = time.perf_counter()
                    _run_one(*args)
                    finished(s, t0)
                    started = True
                    break  # re-read the store before the next run
                in_flight[pool.submit(_run_one, *args)] = (s, time.perf_counter())
            if pool is None:
                if stop or not started:
                    break  # out of budget, or nothing left that can start
                continue
            if not in_flight:
                break  # done, out of budget, or what is left waits on a parent that diverged
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for f in done:
                spec, t0 = in_flight.pop(f)
                f.result()  # a worker's exception surfaces here
                finished(spec, t0)
            if stop:
                queue = []  # let the runs in flight finish, start nothing new
    except BaseException:
        # Interrupted (Ctrl-C, or SIGTERM through main()): stop the workers too, so that no orphan goes on
        # training. Their runs in flight are lost; the store seals a line cut short by a killed writer.
        if pool is not None:
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        raise
    finally:
        leases.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return ran


def busy_elsewhere(specs: list[RunSpec], store: RunStore) -> int:
    """How many of ``specs`` hold a live lease of another process (being trained there now)."""

    live = store.leases()
    me = (socket.gethostname(), os.getpid())
    return sum(1 for s in specs
               if (lease := live.get(s.key(_corpus_fp(s.config.corpus)))) and (lease["host"], lease["pid"]) != me)


def run_batched_groups(specs, store, *, device: str = "auto", on_done=None) -> list:
    """Train the batchable specs in groups, append their records; return the specs left to run singly."""
    groups: dict[str, list] = {}
    rest = []
    for s in specs:
        key = batched.group_key(s.config)
        (rest.append(s) if key is None else groups.setdefault(key, []).append(s))
    for members in groups.values():
        if len(members) == 1:
            rest.extend(members)
            continue
        for i in range(0, len(members), batched.MAX_GROUP):
            chunk = members[i:i + batched.MAX_GROUP]
            t0 = time.perf_counter()
            results = batched.train_batched([s.config for s in chunk], device=device)
            dt = time.perf_counter() - t0
            for s, res in zip(chunk, results):
                corpus = _corpus_fp(s.config.corpus)
                store.put(make_record(s.experiment, s.version, s.config_dict, corpus, res, dt / len(chunk)))
                if on_done:
                    on_done(1)
    return rest
