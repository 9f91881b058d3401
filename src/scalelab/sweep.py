"""The sweep command line: a chapter's plan (every stage), run into its store within a time budget.

    python -m scalelab.sweep wsd_vs_cosine --scale gpu --budget-s 540
    python -m scalelab.sweep 03 --scale cpu --status
    python -m scalelab.sweep 03 --scale cpu --jobs 2   # two single-thread workers (the CPU default)
    python -m scalelab.sweep 04 --scale gpu --executor slurm --partition gpu --gpus 1 --time 60

On a CPU the runs of a chapter train side by side in worker processes, one torch thread each
(:func:`scalelab.runner.default_jobs`): on 2 cores that measured 1.2–1.3× faster than one process using
both cores. The machinery (specs, the store's writer, the worker pool, lookups) is :mod:`scalelab.runner`;
its public names are re-exported here for the notebooks and scripts that import them from this module.
"""

from __future__ import annotations

import argparse
import importlib
import math
import pkgutil
import signal
import sys
import time

import scalelab.experiments as pkg
from scalelab import executors
from scalelab.chapter import takes_records
from scalelab.paths import results_path
from scalelab.runner import (  # noqa: F401  (re-exported: the package's public run API)
    ALLOW_CPU_ENV,
    EVAL_FACTOR,
    OWN_STORE_ENV,
    REF_FLOPS_PER_S,
    REF_STEP_OVERHEAD_S,
    CorpusMismatchError,
    MissingRecordsError,
    RunSpec,
    ScaleDeviceError,
    _ancestors,
    _checkpoint_path,
    _corpus_fp,
    _init_ckpt,
    busy_elsewhere,
    check_scale_device,
    ckpt_root,
    corpus_label,
    default_jobs,
    estimated_flops,
    estimated_seconds,
    lookup,
    own_store_path,
    pending_in_order,
    recorded,
    recreate_checkpoint,
    run_chapter,
    run_pending,
    run_spec,
    sweep,
    training_store,
    worker_pool,
)
from scalelab.scales import validate_scale
from scalelab.store import RunStore
from scalelab.train import DEVICES, resolve_device


def full_plan(mod, scale: str, seed: int = 0, records: list[dict] | None = None,
              stage: str | None = None) -> list[RunSpec]:
    """Every run of a chapter at ``scale``: all its stages (``stage_plans``) where it has them, else ``plan``.
    The book renders a later stage only when it is complete, so a sweep may run them all.

    A staged design (chapter 4: the held-out grid is placed on the fitted grid's records) is planned on
    ``records``; when none are given they are read from the chapter's store at ``scale`` here, in the open, so
    the planning functions themselves never read a store.

    With ``stage``, only that stage's runs and the runs they branch from (earlier stages' stable runs).

    Raises:
        ValueError: on a stage the chapter does not have, naming its stages.
    """
    stages = getattr(mod, "stage_plans", None) or mod.plan
    kw = {"seed": seed}
    if takes_records(stages):
        kw["records"] = records if records is not None else RunStore(results_path(mod.SLUG, scale)).records()
    by_stage = {"plan": stages(scale, **kw)} if stages is mod.plan else stages(scale, **kw)
    if stage is not None and stage not in by_stage:
        raise ValueError(f"chapter {mod.SLUG} has no stage {stage!r}; valid: {', '.join(by_stage)}")
    out, seen = [], set()
    for specs in by_stage.values():
        for sp in specs:
            if sp.config_key not in seen:
                seen.add(sp.config_key)
                out.append(sp)
    if stage is None:
        return out
    by_ckey = {sp.config_key: sp for sp in out}
    want = set()
    for sp in by_stage[stage]:
        while sp is not None and sp.config_key not in want:
            want.add(sp.config_key)
            sp = by_ckey.get(sp.config.init_from) if sp.config.init_from else None
    return [sp for sp in out if sp.config_key in want]


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# ----------------------------------------------------------------------------- CLI
def chapter_modules() -> dict[str, str]:
    """Chapter id ('03') and slug → module name, for every experiments module with a SLUG."""

    out = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"scalelab.experiments.{info.name}")
        slug = getattr(mod, "SLUG", None)
        if slug:
            out[slug] = mod.__name__
            out[mod.NOTEBOOK[:2]] = mod.__name__
    return out


def _resolve_chapter(name: str):
    mods = chapter_modules()
    if name not in mods:
        valid = sorted(k for k in mods if not k[:2].isdigit())
        raise SystemExit(f"unknown chapter {name!r}; valid: {', '.join(valid)} (or their numbers)")
    return importlib.import_module(mods[name])


def _budget_s(text: str) -> float:
    """``--budget-s``: a positive number of seconds, or ``inf`` (no budget)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:  # also refuses nan, which compares false with everything and would mean "no budget"
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, or inf for none; got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:

    ap = argparse.ArgumentParser(prog="python -m scalelab.sweep", description=__doc__.split("\n")[0])
    ap.add_argument("chapter", help="chapter slug or number, e.g. wsd_vs_cosine or 03")
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", choices=DEVICES, help="where the runs train (default: auto)")
    ap.add_argument("--budget-s", type=_budget_s, default=math.inf,
                    help="stop before exceeding this many seconds (a positive number; default: inf, no budget)")
    ap.add_argument("--allow-cpu", action="store_true",
                    help="train --scale gpu even where its runs would execute on a CPU (refused otherwise, with "
                         "the estimated CPU-hours)")
    ap.add_argument("--own-corpus-store", action="store_true",
                    help="when the committed records were made on another corpus (another Python), train a "
                         "separate set on this corpus into <store>.<corpus sha256[:12]>.jsonl")
    ap.add_argument("--status", action="store_true", help="print what is done and what is left, run nothing")
    ap.add_argument("--stage", default=None,
                    help="only this stage of the chapter (and the runs it branches from), e.g. long_horizon; "
                         "default: every stage")
    ap.add_argument("--order", choices=["cheapest", "costliest"], default="cheapest",
                    help="order of the root runs (branches follow their parents); sweeps on several machines "
                         "may share one store: each skips runs the others have recorded")
    ap.add_argument("--jobs", type=int, default=None,
                    help="worker processes training runs side by side, each with cpu_count/jobs torch threads "
                         "(default: one per core on a CPU, one on a GPU; see the performance page)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads per worker (default: cores / jobs); use 1 beside another sweep: "
                         "oversubscribed cores slowed a small run 10× in one measurement (36 vs 3.6 ms per step)")
    ap.add_argument("--executor", default="local", metavar="{local,slurm,dask://host:port}",
                    help="where runs train: local (worker processes here; on CUDA --jobs workers per visible GPU, "
                         "each pinned to it), slurm (one job per run through submitit) or dask://host:port (a "
                         "running dask scheduler); remote workers return records and this process writes the store")
    ap.add_argument("--partition", default=None, help="slurm: the partition (default: the cluster's)")
    ap.add_argument("--gpus", type=int, default=1, help="slurm: GPUs per job (default: 1)")
    ap.add_argument("--time", default="60", help="slurm: time limit per job, minutes or [D-]HH:MM:SS (default: 60)")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        raise SystemExit(f"--threads must be a positive integer, got {args.threads}")
    if args.jobs is None:
        try:
            args.jobs = default_jobs(args.device, args.scale)
        except ValueError as err:
            raise SystemExit(str(err)) from None
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be a positive integer, got {args.jobs}")

    try:  # run_pending itself for local on a CPU
        run = executors.runner(args.executor, partition=args.partition, gpus=args.gpus, time=args.time)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    try:
        validate_scale(args.scale)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    mod = _resolve_chapter(args.chapter)
    try:
        full_plan(mod, args.scale, args.seed, stage=args.stage)  # a bad stage name is refused before any compute
    except ValueError as err:
        raise SystemExit(str(err)) from None
    committed = RunStore(results_path(mod.SLUG, args.scale))
    signal.signal(signal.SIGTERM, _raise_interrupt)  # `kill` stops the workers as well as this process
    t_start = time.perf_counter()
    # A chapter's plan may grow as its records land (chapter 4 places its held-out grid on the laws fitted to
    # its first stage): after each stage the plan is read again, and the sweep goes on while it has new runs.
    while True:
        specs = full_plan(mod, args.scale, args.seed, stage=args.stage)
        fps = [_corpus_fp(c) for c in dict.fromkeys(s.config.corpus for s in specs)]
        try:  # the training identity: (config, corpus fingerprint), as every run counts it
            store = training_store(committed, fps, own=args.own_corpus_store or None, dry_run=args.status)
        except CorpusMismatchError as err:
            raise SystemExit(str(err)) from None
        done = recorded(specs, store)
        pending = pending_in_order([s for s in specs if s.config_key not in done], args.order)
        busy = busy_elsewhere(pending, store)
        print(f"{mod.SLUG} @ {args.scale}: {len(specs) - len(pending)} of {len(specs)} runs recorded on this corpus "
              f"({corpus_label(fps[0])}), {len(pending)} pending"
              + (f" ({busy} being trained by another process)" if busy else "") + f"; store {store.path}",
              flush=True)
        if store.path != committed.path:
            made = "; ".join(f"{n} on {corpus_label(fp)}" for fp, n in committed.corpora())
            print(f"the committed store {committed.path} holds records made on another corpus ({made}): the "
                  "book renders those (records_only); this corpus trains into the store above", flush=True)
        if args.status or not pending:
            return 0
        if executors.uses_launcher(args.executor, args.device):
            kind, _ = executors.parse_executor(args.executor)
            where = ("cuda" if args.gpus > 0 else "cpu") if kind == "slurm" else (
                None if kind != "local" else resolve_device(args.device).type)
        else:
            where = resolve_device(args.device).type
        try:
            check_scale_device(args.scale, where, pending, allow=args.allow_cpu or None)
        except ScaleDeviceError as err:
            raise SystemExit(str(err)) from None
        left_s = args.budget_s - (time.perf_counter() - t_start)
        try:
            ran = run(pending, specs, store, jobs=args.jobs, device=args.device, budget_s=left_s,
                      threads=args.threads)
        except KeyboardInterrupt:
            print(f"interrupted: the runs in flight are lost, {len(store.records())} records are kept in "
                  f"{store.path}", file=sys.stderr, flush=True)
            return 130
        left = [s for s in pending if s.config_key not in recorded(pending, store)]
        busy = busy_elsewhere(left, store)
        print(f"ran {ran} runs ({time.perf_counter() - t_start:.0f} s so far); {len(left)} of this stage pending"
              + (f", {busy} of them being trained by another process" if busy else ""), flush=True)
        if left:
            return 0


if __name__ == "__main__":
    sys.exit(main())
