"""No silent wrong result: every failure mode here once returned a plausible answer, or wasted hours unnoticed."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from scalelab.data import load_corpus
from scalelab.runner import chapter_records

ROOT_RESULTS = Path(__file__).resolve().parents[2] / "results" / "cpu"


# ---- 1. the corpus cache is verified, not trusted by size -------------------------------------------------
@pytest.fixture
def folder_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALELAB_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "texts"
    root.mkdir()
    for i in range(120):
        (root / f"doc{i:03d}.txt").write_text(f"document {i}: " + "lorem ipsum " * 40 + "\n")
    load_corpus.cache_clear()
    yield f"dir:{root}", root, tmp_path / "cache" / "corpus"
    load_corpus.cache_clear()


def _reload(name):
    load_corpus.cache_clear()
    return load_corpus(name)


def test_corpus_cache_with_same_size_garbage_is_rebuilt(folder_corpus, caplog):
    name, _, cache = folder_corpus
    first = load_corpus(name)
    train, fp = bytes(first.train), dict(first.fingerprint)
    del first
    (u8,) = cache.glob("*.train.u8")
    u8.write_bytes(b"\0" * u8.stat().st_size)  # same size, wrong content
    with caplog.at_level(logging.WARNING, logger="scalelab.data"):
        again = _reload(name)
    assert bytes(again.train) == train and again.fingerprint == fp
    assert sum("rebuilding" in r.getMessage() for r in caplog.records) == 1


def test_corpus_cache_with_truncated_index_is_rebuilt(folder_corpus, caplog):
    name, _, cache = folder_corpus
    fp = dict(load_corpus(name).fingerprint)
    (index,) = cache.glob("*.json")
    index.write_text(index.read_text()[:10])
    with caplog.at_level(logging.WARNING, logger="scalelab.data"):
        assert _reload(name).fingerprint == fp
    assert sum("rebuilding" in r.getMessage() for r in caplog.records) == 1
    assert json.loads(index.read_text()) == fp  # the index is whole again


def test_corpus_edit_with_same_size_and_mtime_changes_the_fingerprint(folder_corpus):
    name, root, _ = folder_corpus
    fp = dict(load_corpus(name).fingerprint)
    doc = root / "doc007.txt"
    st = doc.stat()
    time.sleep(0.05)  # file timestamps are coarse (a kernel tick): let the edit land in a later one
    text = doc.read_text()
    doc.write_text(text.replace("lorem", "LOREM", 1))
    os.utime(doc, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert doc.stat().st_size == st.st_size and doc.stat().st_mtime_ns == st.st_mtime_ns
    new = _reload(name).fingerprint
    assert new["sha256"] != fp["sha256"] and new["bytes"] == fp["bytes"]


# ---- 2. refresh: the new record is current, the old line stays ----------------------------------------------
def test_store_marks_the_current_record_and_keeps_the_old_line(tmp_path):
    from scalelab.store import RunStore

    s = RunStore(tmp_path / "s.jsonl")
    assert s.put({"key": "k", "config_key": "c", "x": 1})
    assert not s.put({"key": "k", "config_key": "c", "x": 2})  # a plain put never doubles a key
    assert s.put({"key": "k", "config_key": "c", "x": 3}, replace=True)
    assert [r["x"] for r in s.records()] == [3] and s.get("k")["x"] == 3 and s.by_config_key()["c"]["x"] == 3
    assert [r["x"] for r in s.records(history=True)] == [1, 3]
    assert s.compact() == 1 and [r["x"] for r in s.records(history=True)] == [1, 3]  # compact drops no history


def _tiny_specs():
    from scalelab.model import ModelConfig
    from scalelab.sweep import RunSpec
    from scalelab.train import TrainConfig

    base = TrainConfig(model=ModelConfig(d_model=16, n_layer=1, d_head=8, seq_len=16, base_d_model=16),
                       total_steps=4, batch_size=2, eval_tokens=256)
    return [RunSpec("grid", base.replace(lr=lr)) for lr in (1e-3, 3e-3)]


def test_refresh_returns_and_keeps_the_new_records(tmp_path):
    from scalelab.store import RunStore
    from scalelab.sweep import sweep

    specs = _tiny_specs()
    store = RunStore(tmp_path / "s.jsonl")
    sweep(specs, store, device="cpu", progress=False, batched=False)
    planted = [{**r, "result": {**r["result"], "final_eval_loss": 123.0}} for r in store.records()]
    store.path.write_text("".join(json.dumps(r) + "\n" for r in planted))
    recs = sweep(specs, store, device="cpu", progress=False, batched=False, refresh=True)
    assert len(recs) == 2 and all(r["result"]["final_eval_loss"] != 123.0 for r in recs)
    assert all(r["result"]["final_eval_loss"] != 123.0 for r in store.records())
    assert sum(r["result"]["final_eval_loss"] == 123.0 for r in store.records(history=True)) == 2


# ---- 4. concurrent trainers: unique temporary checkpoint names; leases -------------------------------------
def test_checkpoint_temporary_files_have_unique_names(tmp_path, monkeypatch):
    import torch

    from scalelab import train as T

    saved = []
    real_save = torch.save

    def spy(obj, f, *a, **k):
        saved.append(str(f))
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(T.torch, "save", spy)
    cfg = _tiny_specs()[0].config.replace(checkpoint_steps=(2,))
    shas = []
    for _ in range(2):  # two trainers of one config write the same checkpoint
        shas.append(T.train(cfg, device="cpu", ckpt_dir=tmp_path)["checkpoints"]["2"]["sha256"])
    assert len(saved) == 2 and saved[0] != saved[1], saved
    assert (tmp_path / "step2.pt").exists() and not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    # the bytes do not depend on the temporary name (torch names the archive after the file): a recreated
    # checkpoint has the sha256 its parent's record holds, which the chapters check
    assert shas[0] == shas[1]


def _live_foreign_lease(store, key):
    """A lease held by another live process of this host (the test runner's parent)."""
    import socket

    leases = store._read_leases()
    leases[key] = {"host": socket.gethostname(), "pid": os.getppid(), "heartbeat": time.time(), "ttl_s": 600}
    store._write_leases(leases)


def test_a_run_leased_to_a_live_process_is_skipped_and_a_dead_ones_is_taken_over(tmp_path):
    from scalelab.store import RunStore
    from scalelab.sweep import _corpus_fp, recorded, run_pending

    specs = _tiny_specs()
    store = RunStore(tmp_path / "s.jsonl")
    taken = specs[0].key(_corpus_fp("stdlib"))
    _live_foreign_lease(store, taken)
    assert run_pending(specs, specs, store, device="cpu") == 1  # the other process's run is left to it
    assert set(recorded(specs, store)) == {specs[1].config_key}
    leases = store._read_leases()
    leases[taken]["pid"] = 2**22 + 12345  # a pid no process has: the holder died
    store._write_leases(leases)
    assert run_pending(specs, specs, store, device="cpu") == 1
    assert set(recorded(specs, store)) == {s.config_key for s in specs} and not store.leases()
    assert len(store.records(history=True)) == 2  # each run trained once


# ---- 5. workers exit with their parent; 8. process lookups that do not depend on column widths ----------------
def _children(pid: int) -> list[int]:
    """Child pids of ``pid`` read from /proc (no ps, no column width)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_workers_exit_when_the_sweep_is_killed(tmp_path):
    import signal
    import subprocess
    import sys

    env = {**os.environ, "SCALELAB_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "scalelab.sweep", "01", "--scale", "smoke", "--jobs", "2",
                             "--threads", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    workers: list[int] = []
    store = tmp_path / "_build" / "results" / "smoke" / "mup_derivation.jsonl"
    try:
        t0 = time.time()
        while time.time() - t0 < 90:
            workers = [c for c in _children(proc.pid) if "multiprocessing.spawn" in _cmdline(c)]
            if len(workers) == 2 and store.exists() and store.read_bytes().count(b"\n") >= 2:
                break  # both workers are up and training (records are landing)
            time.sleep(0.2)
        assert len(workers) == 2, "the sweep did not start its workers"
        proc.kill()  # SIGKILL, as the OOM killer does: no handler runs in the sweep
        proc.wait(timeout=30)
        t0 = time.time()
        while time.time() - t0 < 10 and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "workers outlived their sweep"
    finally:
        for pid in [proc.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait(timeout=30)


# ---- 6. the gpu scale where runs would execute on a CPU ---------------------------------------------------
def test_gpu_scale_on_a_cpu_is_refused_before_compute(tmp_root, monkeypatch):
    import scalelab.runner as R
    import scalelab.sweep as S

    def no_compute(*a, **k):
        raise AssertionError("compute started")

    monkeypatch.setattr(S, "run_pending", no_compute)  # the CLI's name for it
    monkeypatch.setattr(R, "run_pending", no_compute)
    monkeypatch.setattr(R, "train", no_compute)
    with pytest.raises(SystemExit, match=r"CPU-hours.*--allow-cpu"):
        S.main(["03", "--scale", "gpu", "--device", "cpu", "--executor", "local"])
    specs = _tiny_specs()
    S.check_scale_device("gpu", "cuda", specs, allow=False)  # a GPU where the runs execute: fine
    S.check_scale_device("gpu", None, specs, allow=False)  # a remote executor decides for itself
    S.check_scale_device("gpu", "cpu", specs, allow=True)  # the explicit override
    with pytest.raises(S.ScaleDeviceError, match="CPU-hours"):
        S.check_scale_device("gpu", "cpu", specs, allow=False)


# ---- 7. small bad inputs, before any compute ----------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["01", "--device", "tpu", "--status"], "invalid choice: 'tpu'"),
    (["01", "--budget-s", "nan", "--status"], "positive number of seconds"),
    (["01", "--budget-s", "-5", "--status"], "positive number of seconds"),
])
def test_sweep_cli_rejects_bad_device_and_budget(argv, message, capsys):
    from scalelab.sweep import main

    with pytest.raises(SystemExit):
        main(argv)
    err = capsys.readouterr().err
    assert message in err and ("auto" in err or "inf" in err)


def test_a_chapter_checks_its_published_data_before_its_first_run(tmp_root, tmp_path, monkeypatch):
    import scalelab.experiments.chinchilla as ch
    import scalelab.runner as R
    from scalelab import anchors

    missing = tmp_path / "no_such_anchors"
    monkeypatch.setenv("SCALELAB_ANCHORS_DIR", str(missing))
    monkeypatch.setenv("SCALELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(anchors, "_fetch", lambda url, timeout=30.0: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.setattr(R, "run_spec", lambda *a, **k: (_ for _ in ()).throw(AssertionError("compute started")))
    with pytest.raises(anchors.AnchorError, match=str(missing)):
        chapter_records(ch, "smoke")


@pytest.mark.parametrize("params, message", [
    ({"seed": "notanumber"}, "seed must be a non-negative integer"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"refresh": "yes"}, "refresh must be True or False"),
    ({"device": "tpu"}, "device must be one of auto, cpu, cuda"),
    ({"scale": "huge"}, "scale must be one of smoke, cpu, gpu"),
])
def test_chapter_parameters_are_checked_before_any_compute(params, message, monkeypatch):
    import scalelab.experiments.chinchilla as ch
    import scalelab.experiments.mup_derivation as m1
    import scalelab.runner as R

    monkeypatch.setattr(R, "run_spec", lambda *a, **k: (_ for _ in ()).throw(AssertionError("compute started")))
    kw = {"scale": "smoke", **params}
    for mod in (m1, ch):
        with pytest.raises(ValueError, match=message):
            chapter_records(mod, **kw)


def test_fits_refuse_degenerate_points_and_bad_arguments():
    import numpy as np

    from scalelab.fit import approach2, approach3, fit_power_law
    from scalelab.fit._common import FitInputError

    same = np.full(8, 1e6), np.full(8, 2e7), np.full(8, 3.0)
    with pytest.raises(FitInputError, match="2 distinct N"):
        approach3(*same)
    N = np.repeat([1e6, 2e6, 4e6], 3)
    D = np.tile([1e7, 2e7, 4e7], 3)
    with pytest.raises(FitInputError, match="losses that differ"):
        approach3(N, D, np.full(9, 3.0))
    L = 2.0 + 400 / N**0.3 + 900 / D**0.3
    with pytest.raises(ValueError, match="bootstrap must be a non-negative integer"):
        approach3(N, D, L, bootstrap=-5)
    with pytest.raises(ValueError, match="bootstrap must be a non-negative integer"):
        approach2(N, D, L, C=6 * N * D, bootstrap=-5)
    x = np.array([1.0, 2.0, 4.0, 8.0])
    with pytest.raises(ValueError, match="level must lie strictly between 0 and 1"):
        fit_power_law(x, 3 * x**0.5, bootstrap=10, level=1.5)
    with pytest.raises(ValueError, match="bootstrap must be a non-negative integer"):
        fit_power_law(x, 3 * x**0.5, bootstrap=-5)


# ---- 3. a changed standard library: two identities, each used in one place -----------------------------------
CHANGED_STDLIB_SCRIPT = r"""
import contextlib, io, json, sys
import torch
torch.set_num_threads(1)
import scalelab.runner as R  # the runner calls its own run_spec: patch it there
import scalelab.sweep as S
from scalelab.data import load_corpus
from scalelab.model import ModelConfig
from scalelab.store import RunStore
from scalelab.train import TrainConfig

base = TrainConfig(model=ModelConfig(d_model=16, n_layer=1, d_head=8, seq_len=16, base_d_model=16),
                   total_steps=4, batch_size=2, eval_tokens=256)
specs = [S.RunSpec("grid", base.replace(lr=lr)) for lr in (1e-3, 3e-3)]
fp = load_corpus("stdlib").fingerprint
out = {"sha256": fp["sha256"]}
real_run_spec = R.run_spec
def no_compute(*a, **k):
    raise AssertionError("compute started")
R.run_spec = no_compute
try:  # cpu: the committed records were made on another corpus
    S.run_chapter("grid", "00", specs, "cpu", device="cpu")
except S.CorpusMismatchError as err:
    out["cpu_refused"] = str(err)
out["cpu_rendered"] = [r["corpus"]["sha256"] for r in S.run_chapter("grid", "00", specs, "cpu", records_only=True)]
status = io.StringIO()
with contextlib.redirect_stdout(status):
    S.main(["01", "--scale", "cpu", "--status"])
out["status"] = status.getvalue()
R.run_spec = real_run_spec
recs = S.run_chapter("grid", "00", specs, "smoke", device="cpu")  # smoke trains on this corpus
out["smoke"] = [r["corpus"]["sha256"] for r in recs]
R.run_spec = no_compute
out["smoke_again"] = len(S.run_chapter("grid", "00", specs, "smoke", device="cpu"))  # nothing left to train
print(json.dumps(out))
"""


def _stdlib_with_one_edit(home):
    """A copy of this interpreter's standard library (symlinks) in which one file differs: a PYTHONHOME."""
    import sysconfig
    from pathlib import Path

    src = Path(sysconfig.get_paths()["stdlib"])
    dst = Path(home) / "lib" / src.name
    for root, dirs, files in os.walk(src):
        out = dst / Path(root).relative_to(src)
        out.mkdir(parents=True, exist_ok=True)
        for d in list(dirs):
            if d in ("site-packages", "test", "tests", "idle_test", "__pycache__", "lib-dynload"):
                dirs.remove(d)  # not corpus files: linked whole (compiled modules, bytecode) or left out
                if d in ("__pycache__", "lib-dynload"):
                    (out / d).symlink_to(Path(root) / d)
        for f in files:
            (out / f).symlink_to(Path(root) / f)
    edited = dst / "textwrap.py"
    text = edited.read_bytes()
    edited.unlink()
    edited.write_bytes(text + b"\n# one edited line: another Python's standard library\n")


def test_a_changed_standard_library_neither_retrains_silently_nor_mixes_corpora(tmp_root, tmp_path):
    import shutil
    import subprocess
    import sys

    import scalelab
    from scalelab.paths import results_path
    from scalelab.store import RunStore
    from scalelab.sweep import run_chapter

    specs = _tiny_specs()
    original = run_chapter("grid", "00", specs, "smoke", device="cpu")  # smoke records on this corpus
    committed = results_path("grid", "cpu")
    committed.parent.mkdir(parents=True)
    shutil.copy(results_path("grid", "smoke"), committed)  # stands for records committed on this corpus
    shutil.copy(ROOT_RESULTS / "mup_derivation.jsonl", committed.parent / "mup_derivation.jsonl")
    before = committed.read_bytes()
    _stdlib_with_one_edit(tmp_path / "home")
    env = {**os.environ, "PYTHONHOME": str(tmp_path / "home"), "PYTHONDONTWRITEBYTECODE": "1",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([os.path.dirname(scalelab.__path__[0]),
                                                                  *sys.path])}
    done = subprocess.run([sys.executable, "-c", CHANGED_STDLIB_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    old_sha = original[0]["corpus"]["sha256"]
    assert out["sha256"] != old_sha  # the edit moved the fingerprint
    # training at cpu refuses before any compute and names both choices
    assert "records_only" in out["cpu_refused"] and f"grid.{out['sha256'][:12]}.jsonl" in out["cpu_refused"]
    assert committed.read_bytes() == before
    # rendering reads the committed records by config, whatever corpus made them
    assert out["cpu_rendered"] == [old_sha, old_sha]
    # status counts runs by (config, corpus): none of chapter 1's committed runs is recorded on this corpus
    assert "0 of " in out["status"] and "recorded on this corpus" in out["status"]
    # a smoke run trains on this corpus, and the store it trains into holds this corpus only
    assert out["smoke"] == [out["sha256"]] * 2 and out["smoke_again"] == 2
    smoke = RunStore(results_path("grid", "smoke"))
    assert {r["corpus"]["sha256"] for r in smoke.records(history=True)} == {out["sha256"]}
    aside = RunStore(results_path("grid", "smoke").with_name(f"grid.{old_sha[:12]}.jsonl"))
    assert [r["key"] for r in aside.records()] == [r["key"] for r in original]  # moved beside it, not dropped


# ---- 9. pinned versions ---------------------------------------------------------------------------------
def test_constraints_pin_what_is_installed_and_make_installs_with_them():
    import re
    from importlib import metadata

    root = ROOT_RESULTS.parents[1]
    pins = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in metadata.distributions()}
    for name in ("numpy", "scipy", "torch", "pandas"):
        assert name in pins, f"{name} is not pinned"
    for name, version in pins.items():
        assert installed.get(name, "").split("+")[0] == version, f"{name}: pinned {version}, installed " \
            f"{installed.get(name)}; run `make constraints` after a deliberate upgrade"
    assert "scalelab" not in pins and "mup" not in pins
    makefile = (root / "Makefile").read_text()
    assert "pip install --quiet -c constraints.txt -e" in makefile and "\nconstraints:" in makefile
