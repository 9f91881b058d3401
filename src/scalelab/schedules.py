"""Learning-rate schedules as pure functions of the step.

Every schedule starts with a linear warmup: at 0-based step s < warmup_steps the multiplier is
(s+1)/warmup_steps, so the first step already moves the weights. After warmup:

* ``constant``: 1.
* ``cosine``: from 1 down to ``final_frac`` along a half cosine, reaching it at the last step
  (Hägele et al. 2024, arXiv 2405.18392, use 10% of the peak as their cosine baseline).
* ``wsd`` (warmup–stable–decay; MiniCPM arXiv 2404.06395, Hägele et al.): 1 until
  :func:`cooldown_start`, then the last ``round(decay_frac·total_steps)`` steps cool down to
  ``final_frac`` with shape ``linear``, ``cosine`` or ``1-sqrt`` (1 − √progress, Hägele et al.).
  Before the cooldown WSD equals ``constant`` exactly, so cooldowns can branch from one
  constant-LR run's checkpoints (chapter 3).
* ``multistep`` (DeepSeek LLM arXiv 2401.02954 §2.3): 1, then 0.316 from 80% of the steps and
  0.1 from 90%.

The schedule multiplies the peak LR (and, per parameter group, its μP multiplier).
Used by the trainer and drawn in chapter 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCHEDULES = ("constant", "cosine", "wsd", "multistep")
DECAY_SHAPES = ("linear", "cosine", "1-sqrt")


@dataclass(frozen=True)
class ScheduleConfig:
    """A schedule; validated when built (before any compute)."""

    name: str = "cosine"
    warmup_steps: int = 0
    total_steps: int = 100
    final_frac: float = 0.1
    decay_frac: float = 0.2
    decay_shape: str = "linear"

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.name!r}; valid: {', '.join(SCHEDULES)}")
        if self.decay_shape not in DECAY_SHAPES:
            raise ValueError(f"unknown decay_shape {self.decay_shape!r}; valid: {', '.join(DECAY_SHAPES)}")
        if self.total_steps <= 0:
            raise ValueError(f"total_steps must be positive, got {self.total_steps}")
        if not 0 <= self.warmup_steps < self.total_steps:
            raise ValueError(f"warmup_steps must be in [0, total_steps), got {self.warmup_steps}")
        if not 0 < self.decay_frac <= 1:
            raise ValueError(f"decay_frac must be in (0, 1], got {self.decay_frac}")
        if not 0 <= self.final_frac <= 1:
            raise ValueError(f"final_frac must be in [0, 1], got {self.final_frac}")
        if self.name == "wsd" and cooldown_start(self) < self.warmup_steps:
            raise ValueError("wsd cooldown would start inside the warmup: lower decay_frac or warmup_steps")


def cooldown_start(cfg: ScheduleConfig) -> int:
    """First step of the WSD cooldown."""
    return cfg.total_steps - max(1, round(cfg.decay_frac * cfg.total_steps))


def _shape(shape: str, progress: float) -> float:
    """Fraction of the way from 1 to the final value, for progress in [0, 1]."""
    if shape == "linear":
        return progress
    if shape == "cosine":
        return 0.5 * (1 - math.cos(math.pi * progress))
    return math.sqrt(progress)  # 1-sqrt: the multiplier is 1 − √progress


def lr_multiplier(cfg: ScheduleConfig, step: int) -> float:
    """Multiplier of the peak LR at 0-based ``step`` (in [0, 1])."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.name == "constant":
        return 1.0
    if cfg.name == "multistep":
        if step >= 0.9 * cfg.total_steps:
            return 0.1
        if step >= 0.8 * cfg.total_steps:
            return 0.316
        return 1.0
    if cfg.name == "cosine":
        span = max(1, cfg.total_steps - 1 - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        return cfg.final_frac + (1 - cfg.final_frac) * 0.5 * (1 + math.cos(math.pi * progress))
    start = cooldown_start(cfg)
    if step < start:
        return 1.0
    # Progress reaches 1 at the last step: the final step trains at final_frac.
    progress = (step - start + 1) / (cfg.total_steps - start)
    return 1.0 - (1 - cfg.final_frac) * _shape(cfg.decay_shape, progress)


def lr_multipliers(cfg: ScheduleConfig, steps) -> np.ndarray:
    """Vectorised :func:`lr_multiplier` (for plots)."""
    return np.array([lr_multiplier(cfg, int(s)) for s in np.asarray(steps).ravel()])
