"""Sweeps: cached runs are skipped, executors work unchanged, records-only lookups fail loudly."""

import concurrent.futures as cf
import multiprocessing as mp

import pytest

from scalelab.model import ModelConfig
from scalelab.store import RunStore
from scalelab.sweep import MissingRecordsError, RunSpec, lookup, sweep
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
