"""Batched training equals separate runs, member by member."""

import math

import pytest

from scalelab.batched import group_key, train_batched
from scalelab.model import ModelConfig
from scalelab.store import RunStore
from scalelab.sweep import RunSpec, sweep
from scalelab.train import TrainConfig, train

BASE = TrainConfig(
    model=ModelConfig(d_model=32, n_layer=1, d_head=8, seq_len=32, base_d_model=16),
    lr=3e-3, total_steps=12, batch_size=4, warmup_steps=2, eval_every=6, eval_tokens=1024,
)


def test_batched_equals_sequential():
    """Same seeds → same curves. Tolerance 1e-4 relative: batched matrix products and the explicit
    attention sum in another order than the single-run kernels (float32 rounding, ~1e-6 per step)."""
    cfgs = [BASE.replace(lr=3e-3, seed=0), BASE.replace(lr=6e-3, seed=1, schedule="wsd", final_frac=0.0),
            BASE.replace(lr=1e-2, seed=2, weight_decay=0.1, wd_mode="independent")]
    for single, batched in zip((train(c, device="cpu") for c in cfgs), train_batched(cfgs, device="cpu")):
        assert batched["steps"] == single["steps"] and batched["tokens"] == single["tokens"]
        assert batched["train_curve"]["loss"] == pytest.approx(single["train_curve"]["loss"], rel=1e-4)
        assert batched["eval_curve"]["loss"] == pytest.approx(single["eval_curve"]["loss"], rel=1e-4)


def test_diverging_member_does_not_stop_the_others():
    cfgs = [BASE.replace(lr=3e-3), BASE.replace(lr=50.0, schedule="constant", warmup_steps=0)]
    ok, bad = train_batched(cfgs, device="cpu")
    assert bad["status"] == "diverged" and bad["final_eval_loss"] is None and bad["steps"] < 12
    assert ok["status"] == "finished" and math.isfinite(ok["final_eval_loss"]) and ok["steps"] == 12


def test_grouping_and_sweep(tmp_path):
    assert group_key(BASE) == group_key(BASE.replace(lr=1.0, seed=3))
    assert group_key(BASE) != group_key(BASE.replace(d_model=64))
    assert group_key(BASE.replace(optimizer="lion")) is None
    with pytest.raises(ValueError, match="differ only"):
        train_batched([BASE, BASE.replace(d_model=64)], device="cpu")
    specs = [RunSpec("g", BASE.replace(lr=lr)) for lr in (1e-3, 2e-3)] + [RunSpec("g", BASE.replace(d_model=16))]
    recs = sweep(specs, RunStore(tmp_path / "s.jsonl"), device="cpu", batched=True, progress=False)
    assert len(recs) == 3
    assert [("batched" in r["result"]) for r in recs] == [True, True, False]
