"""Part B of chapter 5, on published data (no training): Epoch's extraction of Chinchilla's points refitted three
ways with intervals over points, the fit-sensitivity panel, CS336's synthetic IsoFLOPs, Llama 3's IsoFLOP points,
Porian et al.'s IsoFLOP curves judged by our own method, and tokens per parameter in practice.

The anchor files are read from ``SCALELAB_ANCHORS_DIR`` (:mod:`scalelab.anchors`)."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pandas as pd

from scalelab import anchors, published
from scalelab.experiments.chinchilla.claims import CHINCHILLA_C, PORIAN_DATASETS, PORIAN_STEPS
from scalelab.experiments.chinchilla.design import chapter_plan
from scalelab.experiments.chinchilla.inference import inference_curve
from scalelab.experiments.chinchilla.laws import _params, _starts, hoffmann_params, huber_objective, law_from_params
from scalelab.experiments.chinchilla.tables import vertex_interval
from scalelab.fit import _lse, approach2, approach3, fit_power_law
from scalelab.resample import array_interval
from scalelab.scales import validate_scale


def epoch_intervals(fit, N, D, L, *, n_boot: int, seed: int = 0) -> dict:
    """Intervals of C5.2's and C5.3's statistics on Epoch's points, resampling points (each is one run).

    Each resample is refitted by the batched Levenberg–Marquardt of :mod:`scalelab.fit._lse`, started at the
    full-data optimum with the resample's counts as weights (a resample is a small perturbation of the data);
    the interval is :mod:`scalelab.resample`'s expanded bootstrap. Returns ``{"log2_tpp": …, "a_gap": …}``:
    log2 of the tokens per parameter at Chinchilla's compute over 20, and a minus Table 2's approach-3 a.
    """
    x, y, t = np.log(np.asarray(N, float)), np.log(np.asarray(D, float)), np.log(np.asarray(L, float))
    n = len(t)
    a_pub = published.CHINCHILLA_TABLE2.value["approach3"]["a"]
    cache: dict = {}

    def params(idx: np.ndarray) -> np.ndarray:  # (k, n) drawn point indices → (k, 5) θ
        key = idx.tobytes()
        if key not in cache:
            counts = np.stack([np.bincount(r, minlength=n) for r in idx]).astype(float)
            th0 = np.repeat(fit.theta[None, :], len(idx), axis=0)
            cache[key] = _lse.lm_batch(th0, x, y, t, 1e-3 if not np.isfinite(fit.delta) else fit.delta,
                                       weights=counts, iters=200, lam0=1e-3, ftol=1e-13)[0]
        return cache[key]

    def tpp(idx):
        th = params(idx)
        A, B, al, be = np.exp(th[:, 0]), np.exp(th[:, 1]), th[:, 3], th[:, 4]
        with np.errstate(all="ignore"):
            G = (al * A / (be * B)) ** (1.0 / (al + be))
            c6 = CHINCHILLA_C / 6.0
            return np.log2((c6 ** (al / (al + be)) / G) / (G * c6 ** (be / (al + be))) / 20.0)

    def gap(idx):
        th = params(idx)
        return th[:, 4] / (th[:, 3] + th[:, 4]) - a_pub

    pts = np.arange(n)
    return {"log2_tpp": array_interval(pts, tpp, unit="point", vectorized=True, n_boot=n_boot, seed=seed),
            "a_gap": array_interval(pts, gap, unit="point", vectorized=True, n_boot=n_boot, seed=seed)}


def mean_start_table(mean, N, D, L) -> pd.DataFrame:
    """Where each start of the mean-reduced fit stopped (C5.4): its summed Huber objective, a, and tokens per
    parameter at Chinchilla's compute. The reported "mean fit" is only the best of these; this is all of them."""
    ends = mean.info.get("endpoints")
    if ends is None:
        return pd.DataFrame(columns=["objective", "a", "tokens_per_param"])
    rows = []
    for th in ends:
        if not np.all(np.isfinite(th)):
            continue
        law = law_from_params({"E": math.exp(th[2]), "A": math.exp(th[0]), "B": math.exp(th[1]), "alpha": th[3],
                               "beta": th[4]})
        with np.errstate(all="ignore"):
            tpp = float(law.tokens_per_param(CHINCHILLA_C)) if th[3] > 0 and th[4] > 0 else np.nan
        rows.append({"objective": huber_objective(_params(law), N, D, L), "a": float(law.a), "tokens_per_param": tpp})
    return pd.DataFrame(rows)


def part_b(scale: str, seed: int = 0) -> dict:
    """Every Part-B and Part-C computation on the published data (deterministic; cached per scale and seed).

    Returns a dict of DataFrames and fit results; see the keys used by the notebook and :func:`analyze`.
    """
    return _part_b(validate_scale(scale), int(seed))


@functools.lru_cache(maxsize=4)
def _part_b(scale: str, seed: int) -> dict:
    p = chapter_plan(scale)
    out: dict = {}
    N, D, L = anchors.epoch_chinchilla_ndl()
    grid = _starts(p.grid_stride)
    fit = approach3(N, D, L, grid=grid, bootstrap=p.b_bootstrap, seed=seed)
    mle = approach3(N, D, L, method="mle", grid=grid)
    mean = approach3(N, D, L, reduction="mean", grid=_starts(p.mean_stride))
    out.update(epoch_fit=fit, epoch_mle=mle, epoch_mean=mean, epoch_n=len(L))
    out["epoch_intervals"] = epoch_intervals(fit, N, D, L, n_boot=p.b_bootstrap, seed=seed)
    out["mean_starts"] = mean_start_table(mean, N, D, L)
    hof, hof_u = hoffmann_params(), hoffmann_params(unrounded=True)
    laws = {"refit (Huber sum, ours)": fit, "MLE (ours)": mle, "mean-reduced (ours)": mean,
            "Hoffmann published (rounded)": law_from_params(hof),
            "Hoffmann published (unrounded)": law_from_params(hof_u),
            "Epoch published MLE": law_from_params({k: published.EPOCH_MLE.value[k] for k in hof})}
    out["laws"] = pd.DataFrame([{"fit": k, **_params(v), "a": float(v.a),
                                 "tokens_per_param": float(v.tokens_per_param(CHINCHILLA_C)),
                                 "huber_sum_objective": huber_objective(_params(v), N, D, L)}
                                for k, v in laws.items()])
    # residuals of the published surface and of our refit on the data (log L̂ − log L)
    df = anchors.epoch_chinchilla()
    out["residuals"] = pd.DataFrame({
        "N": N, "D": D, "C": df["C"].to_numpy(), "loss": L,
        "resid_hoffmann": np.log(law_from_params(hof_u).loss(N, D)) - np.log(L),
        "resid_refit": np.log(fit.loss(N, D)) - np.log(L)})
    # sensitivity panel: one change at a time from the baseline
    N5, D5, L5 = anchors.epoch_chinchilla_ndl(drop_highest=0)
    variants = [("baseline: δ=1e-3, sum, grid, 240 pts", lambda: fit)]
    for dl in (1e-4, 1e-2, 1e-1):
        variants.append((f"Huber δ={dl:g}", lambda dl=dl: approach3(N, D, L, delta=dl, grid=grid)))
    variants += [("mean instead of sum", lambda: mean),
                 ("5 random starts (sum)", lambda: approach3(N, D, L, grid=_starts(1, seed, few=5))),
                 ("5 random starts (mean)", lambda: approach3(N, D, L, reduction="mean", grid=_starts(1, seed, few=5))),
                 ("all 245 points", lambda: approach3(N5, D5, L5, grid=grid))]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn in variants:
            r = fn()
            rows.append({"variant": name, **_params(r), "a": float(r.a),
                         "tokens_per_param": float(r.tokens_per_param(CHINCHILLA_C))})
        out["sensitivity"] = pd.DataFrame(rows)
        # CS336 synthetic IsoFLOPs (the course calls the data synthetic)
        cs = anchors.cs336_isoflops()
        a2 = approach2(cs["N"], cs["D"], cs["loss"], C=cs["C"], bootstrap=p.b_bootstrap, seed=seed)
        out["cs336"] = cs
        out["cs336_fit"] = a2
        out["cs336_pred"] = pd.DataFrame([{"variant": v, "C": c, "a": float(r.a), "N_opt": float(r.n_opt(c)),
                                           "D_opt": float(r.d_opt(c))}
                                          for v, r in (("parabola vertex", a2), ("lowest run", a2.lowest))
                                          for c in (1e23, 1e24)])
        # Llama 3 Fig. 2 points: tokens* = k·C^p from per-budget parabolas
        ll = anchors.llama3_isoflops()
        la = approach2(ll["N"], ll["D"], ll["loss"], C=ll["C"], bootstrap=0)
        out["llama3_fit"] = fit_power_law(la.optima["C"], la.optima["D_opt"])
        out["llama3_interval"] = vertex_interval(la.optima, "D_opt", seed=seed, n_boot=p.b_bootstrap)
        # Porian et al.: the exponent as each correction is applied
        curves = anchors.porian_isoflop_curves()
        optima = anchors.porian_isoflop_optima().dropna(subset=["n_star"])
        theirs = anchors.porian_fit_exponents()
        prow, piv = [], {}
        for ds, (src, dname) in PORIAN_DATASETS.items():
            for label, hp, wu, dec, pc, split in PORIAN_STEPS:
                sel = dict(source_file=src, dataset=dname, hparams=hp, warmup=wu, decay=dec, param_count=pc,
                           loss_split=split)
                m = np.logical_and.reduce([curves[k] == v for k, v in sel.items()])
                mt = np.logical_and.reduce([theirs[k] == v for k, v in sel.items()])
                mo = np.logical_and.reduce([optima[k] == v for k, v in sel.items()])
                sub = curves[m]
                # our IsoFLOP method on their curves: a parabola in log N per budget, a through the vertices,
                # its interval over budgets
                parab = approach2(sub["n"], sub["tokens"], sub["loss"], C=sub["flops"], bootstrap=0)
                iv = vertex_interval(parab.optima, seed=seed, n_boot=p.b_bootstrap)
                piv[(ds, label)] = iv
                theirs_refit = fit_power_law(optima.loc[mo, "flops"], optima.loc[mo, "n_star"])
                prow.append({"dataset": ds, "step": label, "a_ours": float(iv.estimate),
                             "a_ours_interval": (float(iv.lo), float(iv.hi)), "budgets": int(iv.n_units),
                             "interior": int(parab.optima["interior"].sum()),
                             "a_their_optima": float(theirs_refit.p),
                             "a_porian": float(theirs.loc[mt, "a_n_exponent"].iloc[0]),
                             "a_porian_ci": (float(theirs.loc[mt, "a_ci_2.5"].iloc[0]),
                                             float(theirs.loc[mt, "a_ci_97.5"].iloc[0])),
                             "a_published": published.PORIAN_A_PROGRESSION.value[ds][label]})
        out["porian"] = pd.DataFrame(prow)
        out["porian_intervals"] = piv
    out["practice"] = practice_table(out["llama3_fit"])
    target = float(fit.loss(fit.n_opt(1e22), fit.d_opt(1e22)))
    out["inference_target_loss"] = target
    out["inference"] = inference_curve(_params(fit), target, np.logspace(9, 14, 21))
    return out


def practice_table(llama_fit=None, llama_C: float = 3.8e25) -> pd.DataFrame:
    """Tokens per parameter in practice, from :mod:`scalelab.published` (and our Llama 3 refit).

    Llama 3: tokens* = 0.29·C^0.53 at its flagship budget (≈3.8e25 FLOPs), N* = C/(6·tokens*).
    """
    def llama_ratio(k, p):
        d = k * llama_C ** p
        return d / (llama_C / (6 * d))

    rows = [{"model": "Chinchilla (rule of thumb)", "tokens_per_param": 20.0,
             "source": published.EPOCH_TOKENS_PER_PARAM.source},
            {"model": "Chinchilla 70B as trained (1.4T tokens)", "tokens_per_param": 1.4e12 / 70e9,
             "source": "Hoffmann et al. arXiv 2203.15556 §4"}]
    lv = published.LLAMA3_TOKENS_OPT.value
    rows.append({"model": f"Llama 3 IsoFLOP law at C={llama_C:.2g}",
                 "tokens_per_param": llama_ratio(lv["coef"], lv["exp"]),
                 "source": published.LLAMA3_TOKENS_OPT.source + "; rounded coefficients: at 3.8e25 FLOPs a 0.01 "
                 "change in the exponent moves the ratio by about 1.8×"})
    if llama_fit is not None:
        rows.append({"model": "Llama 3 law refitted on the Fig. 2 points (ours)",
                     "tokens_per_param": llama_ratio(llama_fit.k, llama_fit.p),
                     "source": published.LLAMA3_FROM_EXTRACTED_POINTS.source})
    rows.append({"model": "MiniCPM", "tokens_per_param": float(published.MINICPM_TOKENS_PER_PARAM.value),
                 "source": published.MINICPM_TOKENS_PER_PARAM.source})
    hy = getattr(published, "HUNYUAN_TOKENS_PER_ACTIVE_PARAM", None)
    if hy is not None:
        rows.append({"model": "Hunyuan-Large (MoE, per active parameter)", "tokens_per_param": float(hy.value),
                     "source": hy.source})
    return pd.DataFrame(rows)
