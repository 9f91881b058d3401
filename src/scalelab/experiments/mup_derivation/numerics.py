"""Section 1: the two conditions (A1, A2) and the Gaussian operator norm, measured on small float64 nets.

The test net maps a fixed 16-dimensional input through widths n → 2n → n; :func:`one_step` measures
‖h_l‖/√n_l at init and ‖Δh_l‖/√n_l after one step under each parametrization of :data:`NUMERIC_CASES`,
:func:`spectral_checks` collects them over widths and seeds, and :func:`operator_norm_check` measures ‖W‖_op
against σ(√n_l + √n_{l−1}). Everything here is recomputed at every render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.sparse.linalg import svds

from scalelab.experiments.mup_derivation.design import chapter_plan

NUMERIC_INPUT_DIM = 16  # a fixed input dimension (like a vocabulary): the input layer's fan-in stays finite
NUMERIC_BASE_WIDTH = 64  # where SP, μP and "constant σ" coincide (the base model)
NUMERIC_LR = 0.05  # η at the base width; the slopes do not depend on it


def numeric_dims(n: int) -> list[int]:
    """Layer widths [n_0, n_1, n_2, n_3] of the test net: fixed input, then n → 2n → n (two non-square layers)."""
    return [NUMERIC_INPUT_DIM, n, 2 * n, n]


def a1_init_std(fan_out: int, fan_in: int) -> float:
    """σ_l = (1/√n_{l−1})·min(1, √(n_l/n_{l−1})) (Yang, Simon & Bernstein 2023, eq. for A1)."""
    return (1.0 / math.sqrt(fan_in)) * min(1.0, math.sqrt(fan_out / fan_in))


@dataclass(frozen=True)
class NumericCase:
    """One parametrization of the test net.

    Attributes:
        name: label in tables and figures.
        init: ``"a1"`` (σ_l of C1.1), ``"fanin"`` (1/√n_{l−1}, SP's PyTorch/Kaiming init) or ``"const"``
            (the A1 σ_l of the base width, held fixed: GPT-2's constant σ).
        readout: ``"mup"`` (f = (√n_b/n)·⟨v, h⟩) or ``"sp"`` (f = ⟨v, h⟩/√n); equal at the base width.
        optimizer: ``"sgd"`` or ``"adam"`` (Adam's first step: η·g/(|g|+ε), ε = 1e-12).
        lr_rule: ``"sgd"`` (η_l ∝ n_l/n_{l−1}), ``"adam"`` (η_l ∝ 1/n_{l−1}) or ``"global"`` (one η),
            each normalised to η at the base width.
        condition: ``"A1"`` (measure h at init) or ``"A2"`` (measure Δh after one step).
        theory: expected slopes of the measured ratio per layer (from the derivation in the chapter).
    """

    name: str
    init: str
    readout: str
    optimizer: str
    lr_rule: str
    condition: str
    theory: tuple[float, float, float]


NUMERIC_CASES = (
    NumericCase("A1 rule σ_l", "a1", "mup", "sgd", "sgd", "A1", (0.0, 0.0, 0.0)),
    NumericCase("constant σ (GPT-2)", "const", "mup", "sgd", "sgd", "A1", (0.0, 0.5, 1.0)),
    NumericCase("μP + SGD", "a1", "mup", "sgd", "sgd", "A2", (0.0, 0.0, 0.0)),
    NumericCase("μP + Adam", "a1", "mup", "adam", "adam", "A2", (0.0, 0.0, 0.0)),
    NumericCase("SP + SGD", "fanin", "sp", "sgd", "global", "A2", (-0.5, 0.5, 0.5)),
    NumericCase("SP + Adam", "fanin", "sp", "adam", "global", "A2", (0.0, 1.0, 1.0)),
    NumericCase("SGD with Adam's rule", "a1", "mup", "sgd", "adam", "A2", (-1.0, -1.0, -1.0)),
    NumericCase("Adam with SGD's rule", "a1", "mup", "adam", "sgd", "A2", (1.0, 1.0, 1.0)),
)
NETS = ("linear", "relu")


def _init_std(case: NumericCase, l: int, dims: list[int], base_dims: list[int], relu: bool) -> float:
    gain = math.sqrt(2.0) if (relu and l >= 2) else 1.0  # He gain after a ReLU keeps A1's constant
    fan_out, fan_in = dims[l], dims[l - 1]
    if case.init == "a1":
        return gain * a1_init_std(fan_out, fan_in)
    if case.init == "fanin":
        return gain / math.sqrt(fan_in)
    return gain * a1_init_std(base_dims[l], base_dims[l - 1])  # "const"


def _lr_scale(rule: str, dims: list[int], l: int) -> float:
    if rule == "sgd":
        return dims[l] / dims[l - 1]
    if rule == "adam":
        return 1.0 / dims[l - 1]
    return 1.0


def standard_draws(n: int, seed: int = 0):
    """The standard-normal input x, readout direction v and the three weight matrices (float64)."""
    dims = numeric_dims(n)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(dims[0], generator=gen, dtype=torch.float64)
    v = torch.randn(dims[3], generator=gen, dtype=torch.float64)
    zs = [torch.randn(dims[l], dims[l - 1], generator=gen, dtype=torch.float64) for l in (1, 2, 3)]
    return x, v, zs


def one_step(n: int, case: NumericCase, seed: int = 0, net: str = "linear", draws=None) -> dict:
    """Per-layer ‖h_l‖/√n_l at init and ‖Δh_l‖/√n_l after one optimizer step on a 3-layer net.

    The net maps a fixed input x ∈ R^16 (coordinates N(0, 1)) through n → 2n → n; the loss is the
    scalar output f = c·⟨v, h_3⟩ itself (dℓ/df = 1, a Θ(1) error signal), with a fixed v ∼ N(0, I).
    h_l are pre-activations; ``net="relu"`` puts a ReLU after layers 1 and 2. One input, so each
    gradient is rank one, as in the lecture's derivation. Deterministic given ``seed``; ``draws``
    (from :func:`standard_draws`) lets all cases share one set of Gaussian draws.

    The step is computed from that rank-one structure with matrix–vector products only: W_l = σ_l·Z_l,
    ∇W_l = g_l a_{l−1}ᵀ, so SGD's update is η_l·g_l a_{l−1}ᵀ and Adam's first step
    η_l·∇/(|∇| + ε) is η_l·sign(g_l) sign(a_{l−1})ᵀ (ε = 1e-12 only matters where |g_i a_j| ≲ 1e-12);
    after the step h′_l = W_l a′_{l−1} − η_l·u_l (w_lᵀ a′_{l−1}). No n × 2n matrix is formed
    (the unit tests check this against autograd on the explicit matrices).

    Returns:
        ``{"init": [3 floats], "update": [3 floats]}``.
    """
    if net not in NETS:
        raise ValueError(f"unknown net {net!r}; valid: {', '.join(NETS)}")
    relu = net == "relu"
    dims = numeric_dims(n)
    base = numeric_dims(NUMERIC_BASE_WIDTH)
    x, v, zs = draws if draws is not None else standard_draws(n, seed)
    sig = [_init_std(case, l, dims, base, relu) for l in (1, 2, 3)]
    c = math.sqrt(base[3]) / dims[3] if case.readout == "mup" else 1.0 / math.sqrt(dims[3])

    def act(h, i):
        return torch.relu(h) if (relu and i < 2) else h

    hs, ins, a = [], [], x  # ins[i]: the input a_{l−1} of layer l = i + 1
    for i in range(3):
        ins.append(a)
        h = sig[i] * (zs[i] @ a)  # (n_l,)
        hs.append(h)
        a = act(h, i)
    g = c * v  # ∂f/∂h_3
    grads = [None, None, g]
    for i in (2, 1):
        back = sig[i] * (zs[i].T @ grads[i])  # ∂f/∂a_{l−1}
        grads[i - 1] = back * (hs[i - 1] > 0).to(back.dtype) if relu else back
    a, hs2 = x, []
    for i in range(3):
        l = i + 1
        eta = NUMERIC_LR * _lr_scale(case.lr_rule, dims, l) / _lr_scale(case.lr_rule, base, l)
        if case.optimizer == "sgd":
            u, w = grads[i], ins[i]
        else:
            u, w = torch.sign(grads[i]), torch.sign(ins[i])
        h = sig[i] * (zs[i] @ a) - eta * u * torch.dot(w, a)
        hs2.append(h)
        a = act(h, i)
    return {
        "init": [float(h.norm() / math.sqrt(h.numel())) for h in hs],
        "update": [float((b - a).norm() / math.sqrt(a.numel())) for a, b in zip(hs, hs2)],
    }


def spectral_checks(scale: str, seed: int = 0):
    """Section 1's measurements: one row per (net, case, layer, width, seed).

    Columns: net, case, condition, layer, n (the width parameter), n_l, seed, value (‖h_l‖/√n_l for
    A1 cases, ‖Δh_l‖/√n_l for A2 cases), theory_slope.
    """
    p = chapter_plan(scale)
    rows = []
    for n in p.numeric_widths:
        for s in range(seed, seed + p.numeric_seeds):
            draws = standard_draws(n, s)  # shared by every case and net at this (width, seed)
            for net in NETS:
                for case in NUMERIC_CASES:
                    out = one_step(n, case, seed=s, net=net, draws=draws)
                    vals = out["init"] if case.condition == "A1" else out["update"]
                    for layer, val in enumerate(vals, start=1):
                        rows.append({"net": net, "case": case.name, "condition": case.condition, "layer": layer,
                                     "n": n, "n_l": numeric_dims(n)[layer], "seed": s, "value": val,
                                     "theory_slope": case.theory[layer - 1]})
    return pd.DataFrame(rows)


def fit_slope(x, y) -> tuple[float, float, int]:
    """Least-squares slope of log y on log x, its standard error, and the number of distinct x.

    A standard error needs at least three points; with fewer it is NaN.
    """
    x = np.log(np.asarray(x, dtype=float))
    y = np.log(np.asarray(y, dtype=float))
    k = len(np.unique(x))
    if k < 2:
        return float("nan"), float("nan"), k
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = len(x) - 2
    if dof <= 0:
        return float(coef[1]), float("nan"), k
    resid = y - X @ coef
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(X.T @ X)
    return float(coef[1]), float(math.sqrt(max(cov[1, 1], 0.0))), k


def slope_table(numerics):
    """Slope (± SE) of the measured ratio against width, per (net, case, layer), with the theory.

    The fit is of the seed-mean of log(value) per width against log(width); its standard error has
    (number of widths − 2) degrees of freedom. ``theory`` is the first-order prediction
    (ΔW_l·h_{l−1} + W_l·Δh_{l−1}); where updates blow up, the second-order term ΔW_l·Δh_{l−1} can
    make the measured slope steeper.
    """
    rows = []
    for (net, case, layer), g in numerics.groupby(["net", "case", "layer"], sort=False):
        # Seeds share their input x, so a seed shifts every width alike: fit the seed-mean of log(value).
        gm = np.log(g["value"].clip(lower=1e-300)).groupby(g["n"]).mean()
        slope, se, k = fit_slope(gm.index.to_numpy(), np.exp(gm.to_numpy()))
        rows.append({"net": net, "case": case, "condition": g["condition"].iloc[0], "layer": layer,
                     "slope": slope, "se": se, "widths": k, "theory": g["theory_slope"].iloc[0],
                     "finite": bool(np.isfinite(g["value"]).all() and (g["value"] > 0).all())})
    return pd.DataFrame(rows)


OPNORM_SHAPES = ((1, 1), (2, 1), (1, 2), (4, 1))  # (n_l, n_{l−1}) as multiples of the width n
OPNORM_SEEDS = 2  # the top singular value concentrates fast; two draws per shape show its spread


def operator_norm_check(scale: str, seed: int = 0, sigma: float = 1.0):
    """‖W‖_op of Gaussian matrices against σ(√n_l + √n_{l−1}), one row per (shape, width, seed).

    The largest singular value comes from ARPACK (``scipy.sparse.linalg.svds``, k = 1) in float64.
    """
    p = chapter_plan(scale)
    rows = []
    for a, b in OPNORM_SHAPES:
        for n in p.numeric_widths:
            for s in range(seed, seed + OPNORM_SEEDS):
                rng = np.random.default_rng([s, n, a, b])
                W = sigma * rng.standard_normal((a * n, b * n))
                v0 = np.ones(min(W.shape))  # deterministic ARPACK start
                # tol 1e-4: the same ratio as 1e-8 to 1e-12 at n = 2048, a third faster
                top = float(svds(W, k=1, return_singular_vectors=False, v0=v0, tol=1e-4)[0])
                pred = sigma * (math.sqrt(a * n) + math.sqrt(b * n))
                rows.append({"shape": f"{a}n × {b}n", "n": n, "n_l": a * n, "n_lm1": b * n, "seed": s,
                             "op_norm": top, "predicted": pred, "ratio": top / pred})
    return pd.DataFrame(rows)

