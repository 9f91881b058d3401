"""Learning-rate schedules as pure functions of the (0-based) optimizer step.

A schedule returns a multiplier in [0, 1] of the peak LR ``lr`` (and, per parameter group, of its
μP multiplier). Every schedule starts with the same linear warmup: at step ``s < warmup_steps``
the multiplier is ``(s + 1) / warmup_steps``, so step 0 already moves the weights and the last
warmup step reaches exactly 1. After warmup:

* ``constant``: 1.
* ``cosine``: a half cosine from 1 down to ``final_frac``, reached at the last step
  ``total_steps - 1``. Hägele et al. (arXiv 2405.18392) use 10% of the peak as their cosine
  baseline, which is the default ``final_frac = 0.1``.
* ``wsd`` (warmup–stable–decay; MiniCPM arXiv 2404.06395 §4; Hägele et al.): 1 until
  :func:`cooldown_start`, then a cooldown over the last ``round(decay_frac · total_steps)``
  steps down to ``final_frac``, reached at the last step, with shape ``linear``, ``cosine`` or
  ``1-sqrt`` (multiplier ``1 − √progress``, Hägele et al.) or ``exp`` (MiniCPM's exponential
  decay, half-life :data:`EXP_HALF_LIFE_FRAC` of the cooldown). Before the cooldown
  WSD equals ``constant`` exactly, so cooldowns can branch from the checkpoints of one
  constant-LR run (chapter 3). Hägele et al. cool down to 0: pass ``final_frac=0.0`` for their
  setting (the single default 0.1 is cosine's).
* ``multistep`` (DeepSeek LLM arXiv 2401.02954 §2.3): 1, then 0.316 (≈ √0.1) from 80% of the
  steps and 0.1 from 90%. It ignores ``final_frac``, ``decay_frac`` and ``decay_shape``.

Steps at or past ``total_steps`` keep the final value. Used by the trainer (every chapter),
drawn and compared in chapter 3.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

SCHEDULES = ("constant", "cosine", "wsd", "multistep")
DECAY_SHAPES = ("linear", "cosine", "1-sqrt", "exp")
# The ``exp`` cooldown (MiniCPM arXiv 2404.06395 §4 uses an exponential decay η_max · 0.5^((s − S)/T) from the
# cooldown start S): its half-life T is this fraction of the cooldown length d, so the multiplier halves 5 times
# over the cooldown and reaches 2^-5 ≈ 3% of the peak at its last step (then ``final_frac`` mixes in as for the
# other shapes). MiniCPM state T in steps of their runs; scaling it to a fixed share of our cooldown keeps the
# shape the same at every budget. This is our stated choice, not a value taken from the paper.
EXP_HALF_LIFE_FRAC = 0.2
# DeepSeek LLM §2.3: (fraction of the steps after which the level applies, multiplier).
MULTISTEP_LEVELS = ((0.8, 0.316), (0.9, 0.1))


def _as_int(name: str, value) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    """A learning-rate schedule; validated when built, before any compute.

    Args:
        name: one of ``constant``, ``cosine``, ``wsd``, ``multistep``.
        warmup_steps: length of the linear warmup, in [0, total_steps).
        total_steps: number of optimizer steps of the run, > 0.
        final_frac: multiplier at the last step for ``cosine`` and ``wsd``, in [0, 1].
        decay_frac: fraction of ``total_steps`` spent in the WSD cooldown, in (0, 1].
        decay_shape: WSD cooldown shape, one of ``linear``, ``cosine``, ``1-sqrt``, ``exp``.

    Raises:
        ValueError: a name or shape that is not one of the valid ones, or a value out of range.
        TypeError: a non-integer step count.
    """

    name: str = "cosine"
    warmup_steps: int = 0
    total_steps: int
    final_frac: float = 0.1
    decay_frac: float = 0.2
    decay_shape: str = "linear"

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.name!r}; valid: {', '.join(SCHEDULES)}")
        if self.decay_shape not in DECAY_SHAPES:
            raise ValueError(f"unknown decay_shape {self.decay_shape!r}; valid: {', '.join(DECAY_SHAPES)}")
        total = _as_int("total_steps", self.total_steps)
        warmup = _as_int("warmup_steps", self.warmup_steps)
        if total <= 0:
            raise ValueError(f"total_steps must be positive, got {total}")
        if not 0 <= warmup < total:
            raise ValueError(f"warmup_steps must be in [0, total_steps={total}), got {warmup}")
        if not 0 < self.decay_frac <= 1:
            raise ValueError(f"decay_frac must be in (0, 1], got {self.decay_frac}")
        if not 0 <= self.final_frac <= 1:
            raise ValueError(f"final_frac must be in [0, 1], got {self.final_frac}")
        if self.name == "wsd" and cooldown_start(self) < warmup:
            raise ValueError(
                f"wsd cooldown would start at step {cooldown_start(self)}, inside the warmup "
                f"({warmup} steps): lower decay_frac or warmup_steps"
            )
        if self.name == "multistep" and 10 * warmup > 8 * total:
            raise ValueError(
                f"multistep's first drop is at 80% of total_steps={total}; warmup_steps={warmup} "
                "must end before it"
            )

    @property
    def decay_steps(self) -> int:
        """Length of the WSD cooldown (at least one step, so the last step reaches final_frac)."""
        return max(1, round(self.decay_frac * self.total_steps))


def cooldown_start(cfg: ScheduleConfig) -> int:
    """First step of the WSD cooldown: ``total_steps - decay_steps``.

    Steps before it train at the peak LR, exactly as ``constant`` does.
    """
    return cfg.total_steps - cfg.decay_steps


def _decay_fraction(shape: str, progress: np.ndarray) -> np.ndarray:
    """How far from 1 towards the final value the cooldown is, for progress in [0, 1]."""
    if shape == "linear":
        return progress
    if shape == "cosine":
        return 0.5 * (1.0 - np.cos(np.pi * progress))
    if shape == "exp":
        return 1.0 - np.power(0.5, progress / EXP_HALF_LIFE_FRAC)  # halves every EXP_HALF_LIFE_FRAC of the cooldown
    return np.sqrt(progress)  # 1-sqrt: the multiplier is 1 − √progress (Hägele et al.)


def lr_multipliers(cfg: ScheduleConfig, steps) -> np.ndarray:
    """Multipliers of the peak LR at each 0-based step (vectorised :func:`lr_multiplier`).

    Args:
        cfg: the schedule.
        steps: integer array-like of steps, any shape.

    Returns:
        float64 array of the same shape, values in [0, 1].

    Raises:
        ValueError: a negative or non-integer step.
    """
    s = np.asarray(steps)
    integral = np.issubdtype(s.dtype, np.integer) or (np.all(np.isfinite(s)) and np.all(s == np.round(s)))
    if s.size and not integral:
        raise ValueError("steps must be integers")
    s = s.astype(np.int64)
    if np.any(s < 0):
        raise ValueError(f"steps must be >= 0, got min {int(s.min())}")
    total, warmup = cfg.total_steps, cfg.warmup_steps
    sf = s.astype(np.float64)

    if cfg.name == "constant":
        after = np.ones_like(sf)
    elif cfg.name == "multistep":
        after = np.ones_like(sf)
        for frac, level in MULTISTEP_LEVELS:
            # Integer comparison s ≥ frac·total, free of float rounding (0.8·35 = 28.000000000000004).
            after = np.where(10 * s >= round(10 * frac) * total, level, after)
    elif cfg.name == "cosine":
        span = total - 1 - warmup  # steps from the end of warmup to the last step
        progress = np.clip((sf - warmup) / span, 0.0, 1.0) if span > 0 else np.ones_like(sf)
        after = cfg.final_frac + (1.0 - cfg.final_frac) * 0.5 * (1.0 + np.cos(np.pi * progress))
    else:  # wsd
        start = cooldown_start(cfg)
        # +1: the first cooldown step is already below the peak and the last step (total - 1)
        # has progress exactly 1, i.e. trains at final_frac.
        progress = np.clip((sf - start + 1) / cfg.decay_steps, 0.0, 1.0)
        after = 1.0 - (1.0 - cfg.final_frac) * _decay_fraction(cfg.decay_shape, progress)

    if warmup == 0:
        return after
    return np.where(s < warmup, (sf + 1.0) / warmup, after)


def lr_multiplier(cfg: ScheduleConfig, step: int) -> float:
    """Multiplier of the peak LR at 0-based ``step``, in [0, 1].

    Raises:
        ValueError: a negative step.
    """
    return float(lr_multipliers(cfg, np.array([_as_int("step", step)]))[0])
