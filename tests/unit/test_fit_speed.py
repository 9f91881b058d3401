"""Speed of approach 3 on Epoch's 240 points, and the MLE bootstrap's robustness.

Targets (Hoffmann grid of 4,500 starts; a plain scipy L-BFGS-B loop takes ~130 s on 2 cores):
the grid fit in ≤ 1.5 s and a seeded 4,000-resample bootstrap in ≤ 60 s. The machine running the
tests is shared, so by default the wall-clock bounds carry a 4× allowance (they still catch a
fall-back to the plain loop, which is ~100× slower); ``SCALELAB_STRICT_TIMING=1`` applies the
targets as stated. The bootstrap is timed on 400 resamples and extrapolated linearly (each
resample is an independent row of one batched solve, so the cost is linear in the count);
``SCALELAB_FULL_BOOTSTRAP=1`` times all 4,000.
"""

import os
import time

import numpy as np
import pytest

from scalelab.fit import approach3

SLACK = 1.0 if os.environ.get("SCALELAB_STRICT_TIMING") == "1" else 4.0


def test_grid_fit_within_target(epoch_ndl):
    approach3(*epoch_ndl)  # warm-up: imports and first-call allocations are not the fit
    t0 = time.perf_counter()
    res = approach3(*epoch_ndl)
    elapsed = time.perf_counter() - t0
    assert elapsed <= 1.5 * SLACK, f"grid fit took {elapsed:.2f} s (target 1.5 s, allowance ×{SLACK})"
    # The optimum of a plain scipy L-BFGS-B loop over all 4,500 starts (analytic gradient, default
    # tolerances; 868 s on a loaded 2-core machine): objective 1.01827402e-3 at A=477.825,
    # B=2143.435, E=1.817218, α=0.347310, β=0.367173. Relative 1e-3 is the criterion.
    ref = {"A": 477.825, "B": 2143.435, "E": 1.817218, "alpha": 0.347310, "beta": 0.367173}
    for k, v in ref.items():
        assert getattr(res, k) == pytest.approx(v, rel=1e-3), k
    assert res.objective <= 1.01827402e-3 * (1 + 1e-8)


def test_bootstrap_4000_within_target(epoch_ndl):
    n_boot = 4000 if os.environ.get("SCALELAB_FULL_BOOTSTRAP") == "1" else 400
    res = approach3(*epoch_ndl, bootstrap=n_boot, seed=42)
    per_resample = res.info["bootstrap_seconds"] / n_boot
    est_4000 = per_resample * 4000
    assert est_4000 <= 60.0 * SLACK, f"4,000 resamples ≈ {est_4000:.1f} s (target 60 s, allowance ×{SLACK})"
    assert len(res.samples) == n_boot and np.isfinite(res.samples[["alpha", "beta", "E"]].to_numpy()).all()


def test_mle_bootstrap_does_not_overflow(epoch_ndl):
    # Seed 42 (Epoch's) draws resamples on which an unbounded L-BFGS-B line search tries
    # σ = exp(log σ) = inf; those are refitted with log σ boxed instead of raising OverflowError.
    res = approach3(*epoch_ndl, method="mle", bootstrap=12, seed=42)
    s = res.samples
    assert len(s) == 12 and np.isfinite(s[["alpha", "beta", "E", "sigma"]].to_numpy()).all()
    assert (s["sigma"] > 0).all()
    # Resample 6 of seed 42 is one of those (checked: 5 of the first 40 resamples need it).
    assert s.attrs["mle_bounded_fallbacks"] >= 1
