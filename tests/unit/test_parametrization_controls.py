"""The control parametrizations of chapters 1-2: fan-in SP, the two middle controls, the uncalibrated 1/d_head."""

from __future__ import annotations

import math

import pytest
import torch

from scalelab.model import GPT, ModelConfig
from scalelab.optim import param_groups
from scalelab.parametrization import attention_scale, rules

SIGMA = 1 / math.sqrt(32)


def test_fan_in_sp_scales_matrices_as_one_over_sqrt_width_and_equals_constant_sp_at_base():
    for m in (1.0, 4.0, 8.0):
        r = rules("sp", m, init_std=SIGMA, sp_init="fan_in")
        assert r["hidden"].init_std == pytest.approx(SIGMA / math.sqrt(m))
        assert r["readout"].init_std == pytest.approx(SIGMA / math.sqrt(m))
        assert r["embedding"].init_std == SIGMA  # fan-in of the embedding is the vocabulary: constant
        assert all(x.adam_lr_mult == 1.0 for x in r.values())  # still one global LR
    assert rules("sp", 1.0, init_std=SIGMA, sp_init="fan_in") == rules("sp", 1.0, init_std=SIGMA)


def test_middle_controls_take_one_half_of_mup_each():
    m = 4.0
    lr_only = rules("sp", m, init_std=SIGMA, sp_init="fan_in", lr_rule="mup")
    assert lr_only["hidden"].adam_lr_mult == pytest.approx(1 / m) and lr_only["readout"].adam_lr_mult == 1 / m
    assert lr_only["hidden"].init_std == pytest.approx(SIGMA / 2)  # SP's (fan-in) init kept
    assert lr_only["readout"].forward_mult == 1.0
    init_only = rules("mup", m, init_std=SIGMA, lr_rule="sp")
    mup = rules("mup", m, init_std=SIGMA)
    for cls in mup:  # μP's init and multipliers …
        assert init_only[cls].init_std == mup[cls].init_std and init_only[cls].forward_mult == mup[cls].forward_mult
    # … with SP's effective update sizes: the readout's ×m cancels its 1/m multiplier under Adam
    assert init_only["hidden"].adam_lr_mult == 1.0
    assert init_only["readout"].adam_lr_mult * init_only["readout"].forward_mult == pytest.approx(1.0)
    assert rules("mup", 1.0, init_std=SIGMA, lr_rule="sp") == rules("mup", 1.0, init_std=SIGMA)


def test_bad_options_name_the_valid_values():
    with pytest.raises(ValueError, match="constant, fan_in"):
        rules("sp", 2.0, sp_init="kaiming")
    with pytest.raises(ValueError, match="auto, sp, mup"):
        rules("mup", 2.0, lr_rule="both")
    with pytest.raises(ValueError, match="parametrization 'sp' only"):
        ModelConfig(parametrization="mup", sp_init="fan_in")
    with pytest.raises(ValueError, match="inv_d_uncalibrated"):
        ModelConfig(attn_scale="inv_d_exact")


def test_uncalibrated_attention_scale_is_exactly_one_over_d_head():
    assert attention_scale("inv_d_uncalibrated", 16, 16) == 1 / 16
    assert attention_scale("inv_d", 16, 16) == 1 / 4  # the calibrated one equals 1/√d_head at base
    assert attention_scale("inv_d_uncalibrated", 16, 16) / attention_scale("inv_sqrt_d", 16, 16) == 1 / 4


def test_the_model_and_optimizer_follow_the_options():
    torch.manual_seed(0)
    cfg = ModelConfig(d_model=256, n_head=4, d_head=None, base_d_model=32, init_std=SIGMA, parametrization="sp",
                      sp_init="fan_in", lr_rule="mup", depth_init=False)
    model = GPT(cfg)
    w = model.blocks[0].mlp.fc.weight
    assert float(w.std()) == pytest.approx(1 / math.sqrt(256), rel=0.02)  # 1/√d_model: fan-in
    assert float(model.readout.weight.std()) == pytest.approx(1 / math.sqrt(256), rel=0.02)
    lrs = {g["name"]: g["lr"] for g in param_groups(model, optimizer="adamw", lr=0.01, weight_decay=0.0,
                                                    wd_mode="torch")}
    assert lrs["hidden"] == pytest.approx(0.01 / 8) and lrs["readout"] == pytest.approx(0.01 / 8)
    assert lrs["embedding"] == 0.01
    const = GPT(cfg.__class__(**{**cfg.to_dict(), "sp_init": "constant", "lr_rule": "auto"}))
    assert float(const.blocks[0].mlp.fc.weight.std()) == pytest.approx(SIGMA, rel=0.02)
