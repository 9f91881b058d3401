"""Run keys stay put: committed records keep their keys, new fields at their default stay out of a key,
and ``checkpoint_steps`` never enters one."""

import importlib
import json
from pathlib import Path

import pytest

from scalelab.keys import V1_MODEL_FIELDS, V1_TRAIN_FIELDS, added_fields, canonical_config
from scalelab.store import RunStore, config_key, run_key
from scalelab.sweep import RunSpec
from scalelab.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ["mup_derivation", "mu_transfer_ablations", "wsd_vs_cosine", "deepseek_lr_batch", "chinchilla",
            "lr_schedule_law"]


def _records(slug):
    path = ROOT / "results" / "cpu" / f"{slug}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("slug", CHAPTERS)
def test_every_committed_key_recomputes_from_its_config(slug):
    for r in _records(slug):
        assert config_key(r["experiment"], r["version"], r["config"]) == r["config_key"]
        assert run_key(r["experiment"], r["version"], r["config"], r["corpus"]) == r["key"]


@pytest.mark.parametrize("slug", CHAPTERS)
def test_every_chapter_cpu_plan_is_recorded_on_main(slug):
    """Rebuilds each planned run's key from the chapter's plan: a key that moved shows up as a missing record,
    and a chapter whose cpu plan is incomplete would silently render from smoke."""
    mod = importlib.import_module(f"scalelab.experiments.{slug}")
    store = RunStore(ROOT / "results" / "cpu" / f"{slug}.jsonl")
    have = store.by_config_key()
    # chapter 4 places its held-out grid on the records it is given (planning reads no store)
    kw = {"records": store.records()} if slug == "deepseek_lr_batch" else {}
    missing = [s for s in mod.plan("cpu", seed=0, **kw) if s.config_key not in have]
    assert not missing, f"{len(missing)} planned cpu runs of {slug} have no record (moved keys?)"


def test_checkpoint_steps_do_not_enter_the_key():
    cfg = TrainConfig(schedule="constant", total_steps=100)
    a = RunSpec("stable", cfg)
    b = RunSpec("stable", cfg.replace(checkpoint_steps=(40, 80)))
    assert a.config_key == b.config_key
    assert a.key({"sha": "x"}) == b.key({"sha": "x"})
    assert a.config_dict != b.config_dict  # the record still says where checkpoints were saved


def test_v1_fields_always_enter_the_key():
    d = TrainConfig().to_dict()
    c = canonical_config(d)
    assert set(c) == set(d)
    # every v1 field is in the key; a field added later is not while it sits at its default
    assert set(c["model"]) == set(d["model"]) - set(added_fields()["ModelConfig"])
    assert config_key("e", 1, d) != config_key("e", 1, {**d, "lr": d["lr"] * 2})


def test_a_field_added_later_stays_out_of_the_key_at_its_default(monkeypatch):
    d = TrainConfig().to_dict()
    base = config_key("e", 1, d)
    # A dict as a config with a field that did not exist in key-schema v1 would produce it: the key of a config
    # at the new field's default equals the key of the same config before the field existed.
    for name in added_fields()["TrainConfig"]:
        assert name in d
        stripped = {k: v for k, v in d.items() if k != name}
        assert config_key("e", 1, stripped) == base
    for name in added_fields()["ModelConfig"]:
        stripped = {**d, "model": {k: v for k, v in d["model"].items() if k != name}}
        assert config_key("e", 1, stripped) == base


def test_a_field_added_later_enters_the_key_when_set():
    import dataclasses

    from scalelab.keys import _trim

    @dataclasses.dataclass(frozen=True)
    class Grown:
        a: int = 1
        new: str = "off"

    defaults = {"a": 1, "new": "off"}
    assert _trim({"a": 1, "new": "off"}, frozenset({"a"}), defaults) == {"a": 1}
    assert _trim({"a": 1, "new": "on"}, frozenset({"a"}), defaults) == {"a": 1, "new": "on"}
    assert Grown().new == "off"


def test_v1_field_sets_are_frozen():
    # Editing these sets moves committed keys; this count changes only with a migration.
    assert len(V1_TRAIN_FIELDS) == 22 and len(V1_MODEL_FIELDS) == 21


def test_a_new_branch_point_adds_no_record_for_its_trunk(tmp_path, monkeypatch):
    """A trunk recorded with checkpoints at (4,) gets a branch at step 6: the checkpoint is recreated by
    training the trunk to step 6, the trunk keeps one record, and the branch equals a from-scratch run."""
    import scalelab.runner as sweep_mod
    from scalelab.model import ModelConfig
    from scalelab.runner import sweep

    monkeypatch.setattr(sweep_mod, "ckpt_root", lambda: tmp_path / "ckpt")
    base = TrainConfig(model=ModelConfig(d_model=16, n_layer=1, d_head=8, seq_len=16, base_d_model=16),
                       schedule="constant", total_steps=8, batch_size=2, eval_tokens=256)
    store = RunStore(tmp_path / "s.jsonl")
    trunk_v1 = RunSpec("stable", base.replace(checkpoint_steps=(4,)))
    sweep([trunk_v1], store, device="cpu", progress=False, batched=False)
    trunk_v2 = RunSpec("stable", base.replace(checkpoint_steps=(4, 6)))
    assert trunk_v2.config_key == trunk_v1.config_key
    wsd = dict(schedule="wsd", decay_frac=0.25, final_frac=0.0)
    branch = RunSpec("wsd", base.replace(init_from=trunk_v2.config_key, init_step=6, **wsd))
    recs = sweep([trunk_v2, branch], store, device="cpu", progress=False, batched=False)
    assert len(store.records()) == 2 and len(recs) == 2
    assert (tmp_path / "ckpt" / trunk_v2.config_key[:16] / "step6.pt").exists()
    scratch = sweep([RunSpec("scratch", base.replace(**wsd))], RunStore(tmp_path / "t.jsonl"), device="cpu",
                    progress=False, batched=False)[0]
    assert recs[1]["result"]["final_eval_loss"] == pytest.approx(scratch["result"]["final_eval_loss"], abs=1e-6)
