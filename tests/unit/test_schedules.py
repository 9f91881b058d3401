"""Learning-rate schedules: hand-computed values and properties over random configurations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.schedules import (
    DECAY_SHAPES,
    EXP_HALF_LIFE_FRAC,
    SCHEDULES,
    ScheduleConfig,
    cooldown_start,
    lr_multiplier,
    lr_multipliers,
)

# Multipliers are sums and products of a few float64 numbers in [0, 1]; 1e-12 is far above their
# rounding error and far below any step-to-step change the schedules make.
ATOL = 1e-12


@st.composite
def configs(draw, names=SCHEDULES):
    """Valid schedules of up to 2000 steps (rejecting the few invalid wsd/multistep warmups)."""
    name = draw(st.sampled_from(names))
    total = draw(st.integers(1, 2000))
    warmup = draw(st.integers(0, total - 1))
    decay_frac = draw(st.floats(0.01, 1.0))
    final_frac = draw(st.sampled_from([0.0, 0.1, draw(st.floats(0.0, 1.0))]))
    shape = draw(st.sampled_from(DECAY_SHAPES))
    kwargs = dict(name=name, warmup_steps=warmup, total_steps=total, final_frac=final_frac,
                  decay_frac=decay_frac, decay_shape=shape)
    try:
        return ScheduleConfig(**kwargs)
    except ValueError:
        # Only the documented conflicts may be rejected: a wsd cooldown or a multistep drop
        # inside the warmup.
        assert name in ("wsd", "multistep")
        return ScheduleConfig(**{**kwargs, "warmup_steps": 0})


def curve(cfg: ScheduleConfig, extra: int = 3) -> np.ndarray:
    return lr_multipliers(cfg, np.arange(cfg.total_steps + extra))


# --- hand-computed values -------------------------------------------------------------------

def test_warmup_is_linear_and_starts_above_zero():
    cfg = ScheduleConfig(name="constant", warmup_steps=4, total_steps=10)
    np.testing.assert_allclose(curve(cfg, 0), [0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 1])


def test_cosine_known_values():
    # 101 steps, no warmup: progress = step / 100; at the midpoint the cosine term is 1/2.
    cfg = ScheduleConfig(name="cosine", total_steps=101, final_frac=0.1)
    assert lr_multiplier(cfg, 0) == 1.0
    assert lr_multiplier(cfg, 50) == pytest.approx(0.1 + 0.9 * 0.5, abs=ATOL)
    assert lr_multiplier(cfg, 25) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)), abs=ATOL)
    assert lr_multiplier(cfg, 100) == pytest.approx(0.1, abs=ATOL)


def test_wsd_known_values():
    # 100 steps, 20% cooldown from step 80; progress of step s is (s - 79) / 20.
    kw = dict(name="wsd", total_steps=100, decay_frac=0.2, final_frac=0.0)
    linear = ScheduleConfig(**kw, decay_shape="linear")
    sqrt = ScheduleConfig(**kw, decay_shape="1-sqrt")
    cos = ScheduleConfig(**kw, decay_shape="cosine")
    assert cooldown_start(linear) == 80
    assert lr_multiplier(linear, 79) == 1.0
    assert lr_multiplier(linear, 80) == pytest.approx(1 - 1 / 20, abs=ATOL)
    assert lr_multiplier(linear, 89) == pytest.approx(0.5, abs=ATOL)
    assert lr_multiplier(sqrt, 84) == pytest.approx(1 - math.sqrt(0.25), abs=ATOL)
    assert lr_multiplier(cos, 89) == pytest.approx(0.5, abs=ATOL)
    assert lr_multiplier(linear, 99) == 0.0


def test_multistep_levels_and_integer_boundaries():
    cfg = ScheduleConfig(name="multistep", warmup_steps=5, total_steps=100)
    assert [lr_multiplier(cfg, s) for s in (5, 79, 80, 89, 90, 99)] == [1.0, 1.0, 0.316, 0.316, 0.1, 0.1]
    # 0.8 * 35 = 28.000000000000004 in float64: the drop must still happen at step 28.
    odd = ScheduleConfig(name="multistep", total_steps=35)
    assert lr_multiplier(odd, 27) == 1.0 and lr_multiplier(odd, 28) == 0.316


def test_steps_past_the_end_keep_the_final_value():
    for name, final in (("constant", 1.0), ("cosine", 0.1), ("wsd", 0.1), ("multistep", 0.1)):
        cfg = ScheduleConfig(name=name, warmup_steps=2, total_steps=20)
        assert lr_multiplier(cfg, 19) == pytest.approx(final, abs=ATOL)
        assert lr_multiplier(cfg, 500) == pytest.approx(final, abs=ATOL)


def test_single_step_and_single_post_warmup_step():
    assert lr_multiplier(ScheduleConfig(name="cosine", total_steps=1), 0) == pytest.approx(0.1)
    # One step after warmup: it is the last step, so it trains at final_frac.
    cfg = ScheduleConfig(name="cosine", warmup_steps=3, total_steps=4, final_frac=0.2)
    np.testing.assert_allclose(curve(cfg, 0), [1 / 3, 2 / 3, 1.0, 0.2])


# --- properties -----------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(configs())
def test_values_in_unit_interval_and_vectorised_matches_scalar(cfg):
    values = curve(cfg)
    assert np.all((values >= 0) & (values <= 1))
    picks = sorted({0, cfg.warmup_steps, cfg.total_steps - 1, cfg.total_steps // 2})
    assert [lr_multiplier(cfg, s) for s in picks] == list(values[picks])


@settings(max_examples=100, deadline=None)
@given(configs())
def test_warmup_then_non_increasing(cfg):
    values = curve(cfg)
    w = cfg.warmup_steps
    np.testing.assert_allclose(values[:w], (np.arange(w) + 1) / w if w else [], atol=ATOL)
    assert np.all(np.diff(values[w:]) <= ATOL)


@settings(max_examples=100, deadline=None)
@given(configs())
def test_continuous_at_the_warmup_boundary(cfg):
    """The last warmup step reaches the peak; the first step after it stays there unless that
    step already lies in a decay (a wsd cooldown starting right at the boundary, or a cosine
    whose only post-warmup step is the last)."""
    w = cfg.warmup_steps
    if w == 0:
        return
    assert lr_multiplier(cfg, w - 1) == 1.0
    in_decay = (cfg.name == "wsd" and cooldown_start(cfg) == w) or (
        cfg.name == "cosine" and w == cfg.total_steps - 1
    )
    if not in_decay:
        assert lr_multiplier(cfg, w) == pytest.approx(1.0, abs=ATOL)


@settings(max_examples=100, deadline=None)
@given(configs())
def test_exact_endpoints(cfg):
    last = lr_multiplier(cfg, cfg.total_steps - 1)
    T = cfg.total_steps
    if cfg.name == "multistep":
        # The last step is past 90% of the run when T >= 10, past 80% when T >= 5.
        expected = 0.1 if T >= 10 else 0.316 if T >= 5 else 1.0
    else:
        expected = 1.0 if cfg.name == "constant" else cfg.final_frac
        if cfg.name == "wsd" and cfg.decay_shape == "exp":
            # MiniCPM's exponential never reaches its floor: 2^-(1/EXP_HALF_LIFE_FRAC) of the way above it
            expected = cfg.final_frac + (1 - cfg.final_frac) * 0.5 ** (1 / EXP_HALF_LIFE_FRAC)
    assert last == pytest.approx(expected, abs=ATOL)
    first = lr_multiplier(cfg, 0)
    if cfg.warmup_steps:
        assert first == pytest.approx(1 / cfg.warmup_steps, abs=ATOL)


@settings(max_examples=100, deadline=None)
@given(configs(names=("wsd",)))
def test_wsd_equals_constant_before_the_cooldown(cfg):
    start = cooldown_start(cfg)
    constant = ScheduleConfig(name="constant", warmup_steps=cfg.warmup_steps, total_steps=cfg.total_steps)
    np.testing.assert_array_equal(lr_multipliers(cfg, np.arange(start)), lr_multipliers(constant, np.arange(start)))
    if cfg.final_frac <= 0.99:  # (a final_frac a rounding error below 1 would round back to the peak)
        assert lr_multiplier(cfg, start) < 1.0  # the cooldown's first step is already below the peak


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 2000), st.floats(0.01, 1.0), st.floats(0.0, 0.99))
def test_cooldown_shape_orderings(total, decay_frac, final_frac):
    """Pointwise: 1-sqrt ≤ linear (√p ≥ p on [0, 1]). Cosine is above linear in the first half of
    the cooldown and below it in the second, so neither dominates; over the cooldown 1-sqrt
    has the smallest mean LR, cosine and linear about the same (exactly, in the continuum)."""
    kw = dict(name="wsd", total_steps=total, decay_frac=decay_frac, final_frac=final_frac)
    lin, sqrt, cos = (curve(ScheduleConfig(**kw, decay_shape=s), 0) for s in ("linear", "1-sqrt", "cosine"))
    assert np.all(sqrt <= lin + ATOL)
    start = cooldown_start(ScheduleConfig(**kw))
    n = total - start
    progress = (np.arange(start, total) - start + 1) / n
    first, second = progress <= 0.5, progress >= 0.5
    assert np.all(cos[start:][first] >= lin[start:][first] - ATOL)
    assert np.all(cos[start:][second] <= lin[start:][second] + ATOL)
    assert sqrt[start:].mean() <= lin[start:].mean() + ATOL
    # Cosine and linear cooldowns drop by the same area up to the discretisation: with n steps
    # their means differ by at most (1 - final)/n.
    assert abs(cos[start:].mean() - lin[start:].mean()) <= (1 - final_frac) / n + ATOL


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "linear"}, "valid: constant, cosine, wsd, multistep"),
        ({"name": "wsd", "decay_shape": "sqrt"}, "valid: linear, cosine, 1-sqrt"),
        ({"total_steps": 0}, "total_steps must be positive"),
        ({"warmup_steps": 10}, r"warmup_steps must be in \[0, total_steps=10\)"),
        ({"warmup_steps": -1}, "warmup_steps must be in"),
        ({"decay_frac": 0.0}, r"decay_frac must be in \(0, 1\]"),
        ({"decay_frac": 1.5}, "decay_frac"),
        ({"final_frac": -0.1}, r"final_frac must be in \[0, 1\]"),
        ({"name": "wsd", "warmup_steps": 9, "decay_frac": 0.5}, "inside the warmup"),
        ({"name": "multistep", "warmup_steps": 9}, "80%"),
    ],
)
def test_bad_configs_name_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ScheduleConfig(**{"total_steps": 10, **kwargs})


def test_bad_types_and_steps():
    with pytest.raises(TypeError, match="total_steps must be an integer"):
        ScheduleConfig(total_steps=10.5)
    with pytest.raises(TypeError):
        ScheduleConfig(total_steps=True)
    with pytest.raises(TypeError):
        ScheduleConfig(100)  # keyword-only: the fields are too alike to pass by position
    cfg = ScheduleConfig(total_steps=10)
    with pytest.raises(ValueError, match=">= 0"):
        lr_multiplier(cfg, -1)
    with pytest.raises(ValueError, match="integers"):
        lr_multipliers(cfg, [0.5])
    assert lr_multipliers(cfg, np.zeros((2, 3), dtype=int)).shape == (2, 3)
