"""Sweeps: cached runs are skipped, executors work unchanged, records-only lookups fail loudly."""

import concurrent.futures as cf
import multiprocessing as mp

import pytest

from scalelab.model import ModelConfig
from scalelab.store import RunStore
from scalelab.sweep import MissingRecordsError, RunSpec, lookup, run_pending, sweep
from scalelab.train import TrainConfig

BASE = TrainConfig(
    model=ModelConfig(d_model=16, n_layer=1, d_head=8, seq_len=16, base_d_model=16),
    total_steps=4, batch_size=2, eval_tokens=256,
)
SPECS = [RunSpec("grid", BASE.replace(lr=lr)) for lr in (1e-3, 3e-3)]


def test_sweep_skips_cached_runs(tmp_path):
    store = RunStore(tmp_path / "s.jsonl")
    recs = sweep(SPECS, store, device="cpu", progress=False, batched=False)
    assert len(recs) == 2 and all(r["result"]["status"] == "finished" for r in recs)
    mtime = store.path.stat().st_mtime_ns
    again = sweep(SPECS, store, device="cpu", progress=False, batched=False)
    assert [r["key"] for r in again] == [r["key"] for r in recs]
    assert store.path.stat().st_mtime_ns == mtime  # nothing retrained or rewritten
    assert lookup(SPECS, store)[0]["config"]["lr"] == 1e-3
    with pytest.raises(MissingRecordsError, match="make chapter"):
        lookup([RunSpec("grid", BASE.replace(lr=1.0))], store, command="make chapter NB=01 SCALE=cpu")
    assert recs[0]["meta"]["torch"] and recs[0]["meta"]["seconds"] > 0


def test_sweep_with_process_pool(tmp_path):
    store = RunStore(tmp_path / "s.jsonl")
    # spawn, not fork: forking a process whose torch thread pool is running can deadlock the child.
    with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as ex:
        recs = sweep(SPECS, store, executor=ex, device="cpu", progress=False)
    assert len(recs) == 2 and len(store.records()) == 2


def test_sweep_with_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        recs = sweep(SPECS, RunStore(tmp_path / "s.jsonl"), executor=client, device="cpu", progress=False)
    assert len(recs) == 2


def _parent_and_branch():
    parent = RunSpec("wsd", BASE.replace(schedule="constant", total_steps=6, checkpoint_steps=(3,)))
    branch = RunSpec("wsd", BASE.replace(schedule="wsd", total_steps=6, init_from=parent.config_key, init_step=3))
    return parent, branch


@pytest.mark.parametrize("jobs", [1, 2])
def test_run_pending_runs_branches_after_parents(tmp_path, jobs):
    parent, branch = _parent_and_branch()
    plan = [*SPECS, parent, branch]
    store = RunStore(tmp_path / "s.jsonl")
    # the branch comes first on purpose: it must wait until its parent is recorded
    ran = run_pending([branch, *plan[:3]], plan, store, jobs=jobs, device="cpu", threads=1)
    assert ran == 4
    recs = store.by_config_key()
    assert set(recs) == {s.config_key for s in plan}
    assert recs[branch.config_key]["result"]["start_step"] == 3
    assert run_pending(plan, plan, store, jobs=jobs, device="cpu") == 0  # everything is recorded


def test_run_pending_respects_the_time_budget(tmp_path):
    store = RunStore(tmp_path / "s.jsonl")
    assert run_pending(SPECS, SPECS, store, budget_s=0.0) == 0
    assert store.records() == []


def test_sweep_cli_rejects_bad_jobs():
    from scalelab.sweep import main

    with pytest.raises(SystemExit, match="--jobs must be a positive integer"):
        main(["01", "--jobs", "0", "--status"])


def test_default_jobs(monkeypatch):
    import os

    from scalelab.sweep import default_jobs

    monkeypatch.delenv("SCALELAB_JOBS", raising=False)
    assert default_jobs("cpu", "smoke") == 1
    assert default_jobs("cpu", "cpu") == (os.cpu_count() or 1)
    monkeypatch.setenv("SCALELAB_JOBS", "3")
    assert default_jobs("cpu", "smoke") == 3
    monkeypatch.setenv("SCALELAB_JOBS", "two")
    with pytest.raises(ValueError, match="SCALELAB_JOBS must be a positive integer"):
        default_jobs("cpu", "cpu")


def test_pending_in_order_puts_roots_first():
    from scalelab.sweep import pending_in_order

    parent, branch = _parent_and_branch()
    big = RunSpec("grid", BASE.replace(d_model=32, base_d_model=32))
    assert pending_in_order([branch, big, parent]) == [parent, big, branch]
    assert pending_in_order([branch, big, parent], "costliest") == [big, parent, branch]
    with pytest.raises(ValueError, match="'cheapest' or 'costliest'"):
        pending_in_order([parent], "random")


def test_run_chapter_trains_on_workers(tmp_path, monkeypatch):
    from scalelab.sweep import run_chapter

    monkeypatch.setenv("SCALELAB_JOBS", "2")
    store = RunStore(tmp_path / "s.jsonl")
    recs = run_chapter("grid", "01", SPECS, "smoke", device="cpu", store=store)
    assert len(recs) == 2 and len(store.records()) == 2


def _proc_children(pid):
    """(pid, command line) of the children of ``pid``, read from /proc: no ``ps`` column width to cut a long
    checkout path (and the workers' command lines) short."""
    import os

    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
        if ppid == pid:
            out.append((int(d), cmd))
    return out


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not __import__("os").path.isdir("/proc"), reason="reads /proc")
def test_sweep_cli_sigterm_stops_its_workers(tmp_path):
    """`kill <sweep>` ends the workers too (they used to finish their run and idle as orphans)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "SCALELAB_ROOT": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "scalelab.sweep", "01", "--scale", "smoke", "--jobs", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)

    def workers():
        return [pid for pid, cmd in _proc_children(proc.pid) if "multiprocessing.spawn" in cmd]

    seen = []
    try:
        t0 = time.time()
        while len(workers()) < 2 and time.time() - t0 < 60:
            time.sleep(0.5)
        seen = workers()
        assert len(seen) == 2, "the sweep did not start its workers"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "interrupted" in err
        t0 = time.time()
        while time.time() - t0 < 10 and any(_running(w) for w in seen):
            time.sleep(0.5)
        left = [w for w in seen if _running(w)]
        assert not left, f"workers left running: {left}"
    finally:  # a failed check must not leave the sweep or its workers running
        for pid in [proc.pid, *seen]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)


def test_sweep_cli_rejects_bad_threads():
    from scalelab.sweep import main

    with pytest.raises(SystemExit, match="--threads must be a positive integer"):
        main(["01", "--threads", "0", "--status"])


def test_full_plan_of_one_stage_brings_the_runs_it_branches_from():
    from scalelab.experiments import chinchilla as C
    from scalelab.experiments import wsd_vs_cosine as W
    from scalelab.sweep import full_plan

    for mod, stage in ((W, "exp_cooldown"), (C, "controls")):
        specs = full_plan(mod, "smoke", 0, stage=stage)
        own = mod.stage_plans("smoke", 0)[stage]
        keys, own_keys = {s.config_key for s in specs}, {s.config_key for s in own}
        assert own_keys <= keys
        parents = {s.config.init_from for s in specs if s.config.init_from}
        assert keys - own_keys == parents - own_keys  # what it adds is exactly the earlier stages' trunks
    assert not parents <= own_keys  # chapter 5's envelope branches start from first-stage stable runs
    with pytest.raises(ValueError, match="valid: base, controls, exp_cooldown"):
        full_plan(W, "smoke", 0, stage="nope")
