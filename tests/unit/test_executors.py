"""Executors: workers return records and only the launcher writes the store (submitit's local executor, a dask
LocalCluster); GPU workers are pinned one device each; bad executor names and time limits fail before any run."""

import os

import pytest
import torch

from scalelab.executors import (
    SlurmOptions,
    launch,
    parse_executor,
    parse_time,
    pinned_pools,
    run_returning,
    slurm_executor,
    train_records,
    uses_launcher,
)
from scalelab.model import ModelConfig
from scalelab.store import RunStore
from scalelab.sweep import RunSpec, _corpus_fp
from scalelab.train import TrainConfig

BASE = TrainConfig(
    model=ModelConfig(d_model=16, n_layer=1, d_head=8, seq_len=16, base_d_model=16),
    total_steps=4, batch_size=2, eval_tokens=256,
)
SPECS = [RunSpec("grid", BASE.replace(lr=lr)) for lr in (1e-3, 3e-3)]
PARENT = RunSpec("wsd", BASE.replace(schedule="constant", total_steps=6, checkpoint_steps=(3,)))
BRANCH = RunSpec("wsd", BASE.replace(schedule="wsd", total_steps=6, init_from=PARENT.config_key, init_step=3))


@pytest.fixture
def one_thread(monkeypatch, tmp_path):
    """Workers (subprocesses) inherit one thread each; checkpoints and job folders go to a temporary root."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("SCALELAB_ROOT", str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(threads)


def test_executor_names_and_time_limits():
    assert parse_executor("local") == ("local", None)
    assert parse_executor("slurm") == ("slurm", None)
    assert parse_executor("dask://10.0.0.5:8786") == ("dask", "tcp://10.0.0.5:8786")
    for bad in ("dask", "dask://host", "dask://:8786", "ray", "Slurm"):
        with pytest.raises(ValueError, match=r"valid: local, slurm, dask://host:port"):
            parse_executor(bad)
    assert [parse_time(t) for t in ("90", "45:00", "1:30:00", "1-12", "1-00:30", "0:01:01")] == [90, 45, 90, 2160,
                                                                                                   1470, 2]
    for bad in ("", "1h", "0", "-5", "1:2:3:4"):
        with pytest.raises(ValueError, match="HH:MM:SS"):
            parse_time(bad)
    with pytest.raises(ValueError, match="--gpus"):
        SlurmOptions(gpus=-1)


def test_bad_executor_fails_before_any_run(tmp_path):
    store = RunStore(tmp_path / "s.jsonl")
    with pytest.raises(ValueError, match="valid: local"):
        launch(SPECS, SPECS, store, executor="dask:/nohost", device="cpu")
    assert not store.path.exists()


def test_cpu_local_is_the_plain_sweep():
    # on a CPU nothing changes: launch() hands the runs to sweep.run_pending
    assert not uses_launcher("local", "cpu")
    assert uses_launcher("slurm", "cpu") and uses_launcher("dask://h:1", "cpu")


def test_a_worker_returns_records_and_recreates_a_missing_parent(one_thread):
    # No checkpoint of PARENT exists under this fresh root: the worker retrains it first and returns both records.
    recs = train_records(BRANCH, "cpu", (PARENT,))
    corpus = _corpus_fp(BASE.corpus)
    assert [r["key"] for r in recs] == [PARENT.key(corpus), BRANCH.key(corpus)]
    assert recs[1]["result"]["start_step"] == 3 and recs[1]["result"]["parent_checkpoint_sha256"]
    # Now the checkpoint is here: the branch alone is trained.
    again = train_records(BRANCH, "cpu", (PARENT,))
    assert [r["key"] for r in again] == [BRANCH.key(corpus)]
    assert again[0]["result"]["final_eval_loss"] == pytest.approx(recs[1]["result"]["final_eval_loss"], abs=1e-6)
    assert not list(one_thread.rglob("*.jsonl"))  # nothing was written to any store


def test_submitit_local_executor_returns_records_to_the_launcher(one_thread):
    store = RunStore(one_thread / "s.jsonl")
    ex = slurm_executor(SlurmOptions(gpus=0, time_min=5, cpus=1, folder=str(one_thread / "submitit")),
                        cluster="local")
    # one job: each is a fresh Python process that imports torch, the slowest part of this test
    ran = run_returning(SPECS[:1], SPECS, store, [(ex, 2)], device="cpu", poll_s=0.2)
    assert ran == 1
    corpus = _corpus_fp(BASE.corpus)
    assert [r["key"] for r in store.records()] == [SPECS[0].key(corpus)]
    assert all(r["result"]["status"] == "finished" for r in store.records())


def test_dask_cluster_trains_parents_before_branches(one_thread):
    distributed = pytest.importorskip("distributed")
    plan = [PARENT, BRANCH]
    store = RunStore(one_thread / "s.jsonl")
    # A worker thread in this process (torch is imported already), reached over TCP like a remote scheduler:
    # the runs and their records still cross the wire pickled.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        # the branch first on purpose: it must wait until its parent is recorded
        ran = launch([BRANCH, PARENT], plan, store, executor=address, jobs=2, device="cpu")
        assert cluster.status.name == "running"  # the launcher disconnected; the cluster is not its to stop
    assert ran == 2
    recs = store.by_config_key()
    assert set(recs) == {s.config_key for s in plan}
    assert recs[BRANCH.config_key]["result"]["start_step"] == 3


def test_gpu_workers_are_pinned_one_device_each(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pools = pinned_pools(["3", "5"], jobs_per_device=1, threads=1)
    try:
        seen = [pool.submit(os.getenv, "CUDA_VISIBLE_DEVICES").result() for pool in pools]
    finally:
        for p in pools:
            p.shutdown()
    assert seen == ["3", "5"]
    with pytest.raises(ValueError, match="--jobs"):
        pinned_pools(["0"], 0)


def test_sweep_cli_lists_and_checks_the_executors(capsys):
    from scalelab.sweep import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "{local,slurm,dask://host:port}" in out and "--partition" in out and "--gpus" in out and "--time" in out
    with pytest.raises(SystemExit, match="valid: local, slurm, dask://host:port"):
        main(["03", "--executor", "ray", "--status"])
    with pytest.raises(SystemExit, match="HH:MM:SS"):
        main(["03", "--executor", "slurm", "--time", "1h"])
