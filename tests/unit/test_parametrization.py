"""The parametrization table: μP equals SP at the base width, and agrees with microsoft/mup."""

import math

import pytest
import torch

from scalelab.model import GPT, ModelConfig
from scalelab.optim import build_optimizer
from scalelab.parametrization import attention_scale, rules, rules_table

BASE = dict(d_model=32, n_layer=2, d_head=8, seq_len=16, base_d_model=32)


def _model(param, d_model, **kw):
    torch.manual_seed(0)
    return GPT(ModelConfig(**{**BASE, "d_model": d_model, "parametrization": param, **kw}))


@pytest.mark.parametrize("kw", [{}, {"n_head": 4, "d_head": None}, {"activation": "swiglu", "norm_gain": True},
                                {"readout_init": "sp"}, {"emb_mult": 3.0, "out_mult": 0.5}])
def test_mup_equals_sp_at_base_width(kw):
    """mup's strongest test: at width_mult == 1 the two parametrizations are the same model."""
    sp, mup = _model("sp", 32, **kw), _model("mup", 32, **kw)
    for (n1, p1), (n2, p2) in zip(sp.named_parameters(), mup.named_parameters()):
        assert n1 == n2
        assert torch.equal(p1, p2), n1  # same seed, same init: bitwise equal
    x = torch.randint(0, 256, (2, 16))
    assert torch.equal(sp(x)[0], mup(x)[0])
    for opt_name in ("adamw", "sgd", "lion"):
        g_sp = build_optimizer(sp, optimizer=opt_name, lr=0.01).param_groups
        g_mup = build_optimizer(mup, optimizer=opt_name, lr=0.01).param_groups
        assert [g["lr"] for g in g_sp] == [g["lr"] for g in g_mup]


def test_rules_scale_with_width():
    r1, r4 = rules("mup", 1.0), rules("mup", 4.0)
    assert r4["hidden"].init_std == pytest.approx(r1["hidden"].init_std / 2)
    assert r4["hidden"].adam_lr_mult == pytest.approx(0.25)
    assert r4["readout"].forward_mult == pytest.approx(0.25)
    assert r4["embedding"].sgd_lr_mult == pytest.approx(4.0)
    sp4 = rules("sp", 4.0)
    assert all(r.adam_lr_mult == 1.0 for r in sp4.values())
    assert len(rules_table()) == 2 * 2 * 4


def test_attention_scale_calibrated_at_base():
    assert attention_scale("inv_d", 8, 8) == pytest.approx(1 / math.sqrt(8))
    assert attention_scale("inv_d", 32, 8) == pytest.approx(math.sqrt(8) / 32)
    with pytest.raises(ValueError, match="inv_d, inv_sqrt_d"):
        attention_scale("bogus", 8, 8)


def _mup_reference(d_model):
    """Our model with microsoft/mup's base shapes attached (readout checked separately)."""
    mup = pytest.importorskip("mup")
    base, target = _model("mup", 32), _model("mup", d_model)
    mup.set_base_shapes(target, base, rescale_params=False, do_assert=False)
    return mup, target


@pytest.mark.parametrize("d_model", [64, 128])
def test_lr_groups_match_microsoft_mup(d_model):
    mup, target = _mup_reference(d_model)
    ours = {}
    for opt_name, mu_opt in (("adamw", mup.MuAdamW), ("sgd", mup.MuSGD)):
        for g in build_optimizer(target, optimizer=opt_name, lr=0.01).param_groups:
            for p in g["params"]:
                ours[(opt_name, id(p))] = g["lr"]
        ref = mu_opt(target.parameters(), lr=0.01)
        names = {id(p): n for n, p in target.named_parameters()}
        for g in ref.param_groups:
            for p in g["params"]:
                # Exact up to float rounding: both compute lr·m or lr/m.
                assert ours[(opt_name, id(p))] == pytest.approx(g["lr"], rel=1e-12), (opt_name, names[id(p)])


@pytest.mark.parametrize("d_model", [64, 128])
def test_init_scales_match_microsoft_mup(d_model):
    """Per-parameter init std: ours vs mup.init.normal_(std=σ) on the same shapes.

    The std of a random init is itself random; with ≥ 2k entries per matrix the relative error of
    the sample std is ≲ 3%, so 10% is a safe tolerance that still catches a √m or m error (≥ 41%).
    The residual projections carry GPT-2's depth factor in both (applied after mup's rule).
    """
    mup, target = _mup_reference(d_model)
    classes = target.param_classes()
    sigma, depth = 0.02, 1 / math.sqrt(2 * 2)
    for name, p in target.named_parameters():
        if classes[name] not in ("hidden", "embedding"):
            continue
        ref = torch.empty_like(p)
        ref.infshape = p.infshape
        mup.init.normal_(ref, std=sigma)
        if name.endswith("proj.weight"):
            ref *= depth
        assert p.std().item() == pytest.approx(ref.std().item(), rel=0.10), name


def test_readout_matches_mureadout():
    """Readout: constant init std and forward multiplier 1/m, as mup.MuReadout after set_base_shapes."""
    mup = pytest.importorskip("mup")
    stds, mults = {}, {}
    for d in (32, 128):
        class Wrap(torch.nn.Module):
            def __init__(self, d):
                super().__init__()
                self.inp = torch.nn.Linear(7, d)
                self.out = mup.MuReadout(d, 256)
        torch.manual_seed(0)
        w = Wrap(d)
        mup.set_base_shapes(w, Wrap(32))
        stds[d] = w.out.weight.std().item()
        x = torch.randn(3, d)
        mults[d] = (w.out(x) - w.out.bias) .div(x @ w.out.weight.T).mean().item()
        ours = _model("mup", d)
        assert ours.out_mult == pytest.approx(mults[d], rel=1e-5)
    assert stds[128] == pytest.approx(stds[32], rel=0.05)  # constant in width (sample std of 8k+ entries)
    assert _model("mup", 128).readout.weight.std().item() == pytest.approx(
        _model("mup", 32).readout.weight.std().item(), rel=0.05)
