"""Where a sweep's runs train: here (``local``), on a Slurm cluster (``slurm``) or a dask cluster (``dask://host:port``).

``python -m scalelab.sweep <chapter> --executor …`` routes its pending runs through :func:`launch`:

* ``local`` on a CPU is :func:`scalelab.sweep.run_pending` unchanged (one single-thread worker per core).
* ``local`` on CUDA starts ``--jobs`` workers **per visible GPU**, each pinned to its device through
  ``CUDA_VISIBLE_DEVICES`` (a worker sees one GPU, as ``cuda:0``), so a box with 8 GPUs trains 8·jobs runs
  side by side. The devices are those the launcher sees (its own ``CUDA_VISIBLE_DEVICES`` is respected).
* ``slurm`` submits one job per run through ``submitit`` (partition, GPUs per job and a time limit as flags).
* ``dask://host:port`` sends runs to the workers of a running dask scheduler (``tcp://host:port``).

Everywhere but local-on-CPU, a worker **returns** its records (:func:`train_records`) and the launching process
writes them to the store. The store's ``flock`` then only ever protects one machine's local file, so Slurm nodes
need no shared lock on network storage, and a dask worker needs no access to the repository at all. A branch run
(a WSD cooldown, ``config.init_from``) ships with its ancestors: a worker that lacks the parent's checkpoint
retrains the parent first (the trainer is deterministic, so the checkpoint is the same) and returns both records;
the store keeps the first record of a key, so a duplicate is harmless.

Used by the sweep CLI; chapters call :func:`scalelab.sweep.run_chapter`, which trains locally.
"""

from __future__ import annotations

import functools
import math
import multiprocessing as mp
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import torch

from scalelab.runner import (
    _ancestors,
    _checkpoint_path,
    _corpus_fp,
    _init_ckpt,
    ckpt_root,
    estimated_flops,
    run_pending,
)
from scalelab.store import make_record
from scalelab.train import resolve_device, train

EXECUTORS = ("local", "slurm", "dask://host:port")
POLL_S = {"local": 0.05, "slurm": 5.0, "dask": 0.2}  # how often finished runs are collected, per executor kind


@dataclass(frozen=True)
class SlurmOptions:
    """What one Slurm job (one run) asks for.

    Attributes:
        partition: the Slurm partition (``None``: the cluster's default).
        gpus: GPUs per job (0 for CPU-only partitions).
        time_min: the job's time limit in minutes.
        cpus: CPU cores per job (data loading and the Python loop need few).
        folder: where submitit keeps job scripts, logs and pickled results.
    """

    partition: str | None = None
    gpus: int = 1
    time_min: int = 60
    cpus: int = 4
    folder: str = "_build/submitit"

    def __post_init__(self) -> None:
        if self.gpus < 0:
            raise ValueError(f"--gpus must be >= 0, got {self.gpus}")
        if self.time_min < 1:
            raise ValueError(f"--time must be at least one minute, got {self.time_min} min")
        if self.cpus < 1:
            raise ValueError(f"cpus must be >= 1, got {self.cpus}")


def parse_executor(name: str) -> tuple[str, str | None]:
    """``(kind, address)`` of an executor name: ``("local", None)``, ``("slurm", None)`` or
    ``("dask", "tcp://host:port")``.

    Raises:
        ValueError: naming the valid executors.
    """
    if name in ("local", "slurm"):
        return name, None
    if name.startswith("dask://"):
        hostport = name[len("dask://"):]
        host, _, port = hostport.rpartition(":")
        if host and port.isdigit():
            return "dask", f"tcp://{hostport}"
    raise ValueError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")


def parse_time(value: str) -> int:
    """A Slurm-style time limit in whole minutes: ``90``, ``45:00`` (MM:SS), ``1:30:00``, ``1-12`` (D-HH),
    ``1-12:30`` or ``1-12:30:00``.

    Raises:
        ValueError: naming the accepted forms.
    """
    forms = "minutes (90), MM:SS (45:00), HH:MM:SS (1:30:00), D-HH (1-12), D-HH:MM or D-HH:MM:SS"
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", value.strip())
    if m is None:
        raise ValueError(f"--time {value!r} is not a time limit; give {forms}")
    days, a, b, c = (None if g is None else int(g) for g in m.groups())
    if days is None:
        if b is None:
            seconds = a * 60
        elif c is None:
            seconds = a * 60 + b
        else:
            seconds = a * 3600 + b * 60 + c
    else:
        seconds = days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    if seconds < 60:
        raise ValueError(f"--time {value!r} is under a minute; give {forms}")
    return math.ceil(seconds / 60)


# ----------------------------------------------------------------------------- what a worker runs
def train_record(spec, device: str = "auto", init_checkpoint: str | None = None) -> dict:
    """Train one :class:`scalelab.sweep.RunSpec` and return its record, **without** writing it anywhere.

    The record is the one :func:`scalelab.sweep.run_spec` appends (same key, same provenance); the caller
    puts it in the store.
    """

    corpus = _corpus_fp(spec.config.corpus)
    t0 = time.perf_counter()
    result = train(spec.config, device=device, ckpt_dir=ckpt_root() / spec.config_key[:16],
                   init_checkpoint=init_checkpoint)
    return make_record(spec.experiment, spec.version, spec.config_dict, corpus, result, time.perf_counter() - t0)


def train_records(spec, device: str = "auto", ancestors: tuple = ()) -> list[dict]:
    """Worker body: train ``spec`` and return its record, after its ancestors' records for any ancestor whose
    checkpoint this machine lacks (``ancestors``: parent first, as :func:`scalelab.sweep._ancestors` lists them).
    """

    chain = [*reversed(ancestors), spec]  # oldest first
    # The first link whose parent checkpoint exists here (or that has no parent) is where training starts.
    start = len(chain) - 1
    while start > 0:
        child = chain[start]
        if _checkpoint_path(child.config.init_from, child.config.init_step).exists():
            break
        start -= 1
    records = []
    for s in chain[start:]:
        records.append(train_record(s, device, _init_ckpt(s)))
    return records


# ----------------------------------------------------------------------------- devices
def visible_gpus() -> list[str]:
    """The CUDA devices this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (empty without CUDA)."""

    if not torch.cuda.is_available():
        return []
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None and env.strip():
        return [d.strip() for d in env.split(",") if d.strip()][:torch.cuda.device_count()]
    return [str(i) for i in range(torch.cuda.device_count())]


def _pin(device_id: str, threads: int) -> None:
    # Set before the worker's first CUDA call: the driver reads it once, at initialisation.
    os.environ["CUDA_VISIBLE_DEVICES"] = device_id
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # read by torch when the first run imports it


def pinned_pools(devices: list[str], jobs_per_device: int, threads: int | None = None) -> list:
    """One spawned process pool per device, ``jobs_per_device`` workers each, every worker pinned to its device.

    Raises:
        ValueError: if no device is given or ``jobs_per_device`` < 1.
    """

    if not devices:
        raise ValueError("pinned_pools needs at least one device id")
    if jobs_per_device < 1:
        raise ValueError(f"--jobs must be a positive integer, got {jobs_per_device}")
    threads = threads or max(1, (os.cpu_count() or 1) // (len(devices) * jobs_per_device))
    ctx = mp.get_context("spawn")
    return [ProcessPoolExecutor(max_workers=jobs_per_device, mp_context=ctx, initializer=_pin,
                                initargs=(dev, threads)) for dev in devices]


def slurm_executor(options: SlurmOptions, cluster: str | None = "slurm"):
    """A submitit executor for one-run jobs (``cluster="local"`` runs them as local processes, for tests)."""
    import submitit

    ex = submitit.AutoExecutor(folder=options.folder, cluster=cluster)
    params = {"timeout_min": options.time_min, "gpus_per_node": options.gpus, "cpus_per_task": options.cpus,
              "tasks_per_node": 1, "nodes": 1, "name": "scalelab"}
    if options.partition:
        params["slurm_partition"] = options.partition
    ex.update_parameters(**params)
    return ex


# ----------------------------------------------------------------------------- the launcher
def uses_launcher(executor: str, device: str = "auto") -> bool:
    """Whether :func:`launch` does anything but :func:`scalelab.sweep.run_pending` (local on a CPU)."""
    kind, _ = parse_executor(executor)
    if kind != "local":
        return True

    return resolve_device(device).type == "cuda" and bool(visible_gpus())


def launch(pending: list, plan: list, store, *, executor: str = "local", jobs: int = 1, device: str = "auto",
           budget_s: float = math.inf, threads: int | None = None, slurm: SlurmOptions | None = None) -> int:
    """Train ``pending`` on ``executor``; return how many runs were recorded.

    ``jobs`` is the number of runs in flight: per GPU for ``local`` on CUDA, in all for ``slurm`` (jobs queued at
    once) and ``dask`` (runs handed to the cluster at once).

    Raises:
        ValueError: on an unknown executor (naming the valid ones), before any run starts.
    """
    kind, address = parse_executor(executor)
    if jobs < 1:
        raise ValueError(f"--jobs must be a positive integer, got {jobs}")
    if not uses_launcher(executor, device):

        return run_pending(pending, plan, store, jobs=jobs, device=device, budget_s=budget_s, threads=threads)
    close = []
    if kind == "local":
        pools = pinned_pools(visible_gpus(), jobs, threads)
        slots, close = [(p, jobs) for p in pools], pools
    elif kind == "slurm":
        slots = [(slurm_executor(slurm or SlurmOptions()), jobs)]
    else:
        from distributed import Client

        client = Client(address)
        slots, close = [(client, jobs)], [client]
    try:
        return run_returning(pending, plan, store, slots, device=device, budget_s=budget_s, poll_s=POLL_S[kind])
    finally:
        for c in close:
            if kind == "dask":
                c.close()  # disconnect; Client.shutdown would stop the cluster, which is not ours to stop
            else:
                c.shutdown(wait=True, cancel_futures=True)


def _submit(executor, fn, *args):
    if type(executor).__module__.startswith("distributed"):
        return executor.submit(fn, *args, pure=False)  # two equal specs are still two runs to collect
    return executor.submit(fn, *args)


def run_returning(pending: list, plan: list, store, slots: list, *, device: str = "auto",
                  budget_s: float = math.inf, poll_s: float = 0.2) -> int:
    """The launcher's loop: hand runs to executors whose workers return records, and put those records.

    Args:
        pending: the runs to train, in order (roots before branches, as :func:`scalelab.sweep.pending_in_order`).
        plan: every run of the chapter (branches find their ancestors here).
        store: the :class:`scalelab.store.RunStore` the records go to (only this process writes it).
        slots: ``(executor, capacity)`` pairs: each executor has ``submit(fn, *args)`` returning a future with
            ``done()`` and ``result()`` (``concurrent.futures``, submitit and dask all do); at most ``capacity``
            runs are in flight on each.
        device: passed to the trainer on the worker.
        budget_s: no run starts when the time spent plus its estimate would pass this (as in ``run_pending``).
        poll_s: seconds between looks at the runs in flight.

    Returns:
        how many of ``pending`` were recorded by this call.
    """

    by_ckey = {s.config_key: s for s in plan}
    queue = list(pending)
    in_flight: dict = {}  # future -> (spec, t0, slot index)
    load = [0] * len(slots)
    t_start = time.perf_counter()
    sec_per_flop: float | None = None
    ran = 0
    try:
        while True:
            recorded = store.by_config_key()
            queue = [s for s in queue if s.config_key not in recorded]
            waiting = {s.config_key for s in queue} | {s.config_key for s, _, _ in in_flight.values()}
            ready = [s for s in queue if s.config.init_from not in waiting]
            stop = False
            while ready and any(n < cap for n, (_, cap) in zip(load, slots)):
                s = ready.pop(0)
                est = estimated_flops(s.config) * sec_per_flop if sec_per_flop else 0.0
                if time.perf_counter() - t_start + est > budget_s:
                    stop = True
                    break
                i = min(range(len(slots)), key=lambda j: load[j] / slots[j][1])  # the least loaded slot
                queue.remove(s)
                fut = _submit(slots[i][0], train_records, s, device, tuple(_ancestors(s, by_ckey)))
                in_flight[fut] = (s, time.perf_counter(), i)
                load[i] += 1
            if not in_flight:
                break  # done, out of budget, or what is left waits on a parent that diverged
            done = [f for f in in_flight if f.done()]
            while not done:
                time.sleep(poll_s)
                done = [f for f in in_flight if f.done()]
            for f in done:
                spec, t0, i = in_flight.pop(f)
                load[i] -= 1
                for rec in f.result():  # a worker's exception surfaces here
                    store.put(rec)
                dt = time.perf_counter() - t0
                rate = dt / max(estimated_flops(spec.config), 1.0)
                sec_per_flop = rate if sec_per_flop is None else max(sec_per_flop, rate)
                ran += 1
                print(f"[{ran}/{len(pending)}] {spec.config_key[:12]} {dt:.0f} s", flush=True)
            if stop:
                queue = []  # let the runs in flight finish, start nothing new
    except BaseException:
        for f in in_flight:
            f.cancel()  # a queued Slurm job is cancelled (scancel), a dask or pool future dropped
        raise
    return ran


def runner(executor: str = "local", *, partition: str | None = None, gpus: int = 1, time: str = "60"):
    """The sweep CLI's run function for ``--executor`` and the Slurm flags, checked before any compute: called as
    :func:`scalelab.sweep.run_pending` is (``run(pending, plan, store, jobs=…, device=…, budget_s=…, threads=…)``).

    Raises:
        ValueError: on an unknown executor or a bad Slurm flag, naming the valid values.
    """

    kind, _ = parse_executor(executor)
    slurm = SlurmOptions(partition=partition, gpus=gpus, time_min=parse_time(time)) if kind == "slurm" else None
    return functools.partial(launch, executor=executor, slurm=slurm)
