"""Chapter 3's records as tables: final losses, LR optima, trunk cells, curves for the figures, and the runs
shared with chapter 1."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalelab.experiments.wsd_vs_cosine.claims import (
    CONTROL_SHAPE,
    COSINE_FINAL_FRAC,
    DEFAULT_FRAC,
    DEFAULT_SHAPE,
    LABELS,
    NEAR_STEPS,
)
from scalelab.experiments.wsd_vs_cosine.design import (
    REPLICA_BRANCH,
    REPLICA_EXPERIMENTS,
    REPLICA_TRUNK,
    branch_start,
    chapter_plan,
)
from scalelab.optimum import optimum_1d
from scalelab.schedules import ScheduleConfig, lr_multipliers
from scalelab.store import stable_hash


# ----------------------------------------------------------------------------- tables from records
def _variant(cfg: dict) -> tuple[float, str]:
    if cfg["schedule"] == "wsd":
        return float(cfg["decay_frac"]), cfg["decay_shape"]
    return float("nan"), ""


def finals(records: list[dict]):
    """One row per (protocol, variant, budget, LR, seed): the final held-out loss.

    The stable runs give one ``constant`` row per evaluation step that is a planned budget (the
    loss of a constant LR without cooldown at that budget). Diverged runs have ``loss`` NaN. The
    exponential-cooldown stage's replicas are left out (:func:`replica_records`).
    """
    records = [r for r in records if r["experiment"] not in REPLICA_EXPERIMENTS]  # their own tables: replica_*
    budgets = sorted({r["config"]["total_steps"] for r in records if r["experiment"] != "constant"})
    rows = []
    for r in records:
        c, res = r["config"], r["result"]
        base = {"lr": c["lr"], "log2_lr": math.log2(c["lr"]), "seed": c["seed"], "status": res["status"]}
        if r["experiment"] == "constant":
            ev = dict(zip(res["eval_curve"]["step"], res["eval_curve"]["loss"]))
            for b in budgets:
                if b <= c["total_steps"] and (b in ev or res["status"] != "finished"):
                    loss = ev.get(b, float("nan"))
                    rows.append({"protocol": "constant", "decay_frac": float("nan"), "decay_shape": "", "budget": b,
                                 **base, "loss": float(loss) if loss is not None else float("nan")})
            continue
        f, s = _variant(c)
        loss = res["final_eval_loss"]
        rows.append({"protocol": r["experiment"], "decay_frac": f, "decay_shape": s, "budget": c["total_steps"],
                     **base, "loss": float(loss) if loss is not None else float("nan")})
    cols = ["protocol", "decay_frac", "decay_shape", "budget", "lr", "log2_lr", "seed", "status", "loss"]
    return pd.DataFrame(rows, columns=cols)


def _key_cols():
    return ["protocol", "decay_frac", "decay_shape", "budget"]


def optima(fin):
    """Per (protocol, variant, budget): the optimum of the seed-mean loss over the LR grid, by the book's one
    grid-optimum rule (:func:`scalelab.optimum.optimum_1d`).

    Columns: protocol, decay_frac, decay_shape, budget, best_loss (the best seed-mean grid loss),
    best_log2_lr (its LR), opt_log2_lr and loss_at_opt (the rule's optimum: the fitted vertex, or the best
    grid point when the rule does not fit), fitted, interior, n_lrs, seeds_at_best. A diverged run makes its
    LR's mean infinite: it stays on the grid (so an optimum next to a divergence is interior) but never
    enters the fit.
    """
    rows = []
    f = fin.copy()
    f["decay_frac"] = f["decay_frac"].fillna(-1.0)
    f["loss"] = f["loss"].fillna(np.inf)  # a diverged seed makes that LR's mean infinite
    means = f.groupby([*_key_cols(), "log2_lr"], sort=True).agg(loss=("loss", "mean"), seeds=("seed", "nunique"))
    for key, m in means.groupby(level=list(range(4)), sort=True):
        x = m.index.get_level_values("log2_lr").to_numpy()
        y = m["loss"].to_numpy()
        if not np.isfinite(y).any():
            continue
        o = optimum_1d(x, y)
        i = int(np.argmin(np.where(np.isfinite(y), y, np.inf)))
        rows.append({"protocol": key[0], "decay_frac": key[1] if key[1] >= 0 else float("nan"),
                     "decay_shape": key[2], "budget": key[3], "best_loss": float(y[i]),
                     "best_log2_lr": float(x[i]), "opt_log2_lr": o.x_opt, "loss_at_opt": o.loss_at_opt,
                     "fitted": o.fitted, "interior": o.interior, "n_lrs": len(m),
                     "seeds_at_best": int(m["seeds"].iloc[i])})
    return pd.DataFrame(rows)


def pick(opt, protocol: str, frac: float | None = None, shape: str | None = None):
    """Rows of :func:`optima` for one protocol (and WSD variant), indexed by budget."""
    d = opt[opt["protocol"] == protocol]
    if frac is not None:
        d = d[np.isclose(d["decay_frac"], frac)]
    if shape is not None:
        d = d[d["decay_shape"] == shape]
    return d.set_index("budget").sort_index()


def seed_spread(fin, opt) -> tuple[float, int]:
    """The first rules' pooled per-run seed standard deviation σ_seed and the number of pairs behind it.

    Pairs are (seed, seed + 1) runs of the same config at LRs within one grid step of that schedule's
    tuned LR; σ² = mean(d²)/2 over the pairs. It pools schedules whose seed differences differ
    systematically, so no verdict uses it any more (see :func:`noise_table`); it is kept as a descriptive
    number and for the chapters that quote it.
    """
    diffs = []
    step = float(np.min(np.diff(np.sort(fin["log2_lr"].unique())))) if fin["log2_lr"].nunique() > 1 else 1.0
    f = fin[np.isfinite(fin["loss"])].copy()
    f["decay_frac"] = f["decay_frac"].fillna(-1.0)
    o = opt.copy()
    o["decay_frac"] = o["decay_frac"].fillna(-1.0)
    best = {tuple(r[c] for c in _key_cols()): r["best_log2_lr"] for _, r in o.iterrows()}
    for key, g in f.groupby([*_key_cols(), "log2_lr"], sort=True):
        if key[:4] not in best or abs(key[4] - best[key[:4]]) > step + 1e-9:
            continue
        vals = g.sort_values("seed")["loss"].to_numpy()
        if len(vals) >= 2:
            diffs.append(vals[1] - vals[0])
    if not diffs:
        return float("nan"), 0
    d = np.asarray(diffs)
    return float(math.sqrt(np.mean(d ** 2) / 2)), len(d)


def _vkey(frac: float, shape: str) -> str:
    return f"wsd {frac:g} {shape}"


def trunk_cells(records: list[dict], scale: str):
    """One row per (trunk, budget): the final held-out loss of every branch of that trunk at that budget,
    and the stable run's own evaluations at the budget and at the 20% cooldown start.

    A trunk is one stable run (seed, peak LR); its branches share every step before their branch point,
    so their differences are paired. Columns: seed, log2_lr, trunk, budget, ``wsd <frac> <shape>`` per
    WSD variant, ``multistep``, ``const_B`` (the stable run at step B), ``const_S`` (at the default
    cooldown start S). Missing or diverged entries are NaN.
    """
    p = chapter_plan(scale)
    stable = {(r["config"]["seed"], r["config"]["lr"]): r for r in records if r["experiment"] == "constant"}
    rows: dict[tuple, dict] = {}
    for r in records:
        c, res = r["config"], r["result"]
        if r["experiment"] not in ("wsd", "multistep") or not c.get("init_from"):
            continue
        key = (c["seed"], math.log2(c["lr"]), c["total_steps"])
        row = rows.setdefault(key, {"seed": c["seed"], "log2_lr": key[1], "budget": key[2], "_lr": c["lr"]})
        loss = res.get("final_eval_loss") if res["status"] == "finished" else None
        name = "multistep" if r["experiment"] == "multistep" else _vkey(c["decay_frac"], c["decay_shape"])
        row[name] = float(loss) if loss is not None else float("nan")
    for row in rows.values():
        par = stable.get((row["seed"], row.pop("_lr")))
        ev = dict(zip(par["result"]["eval_curve"]["step"], par["result"]["eval_curve"]["loss"])) if par else {}
        start = branch_start(row["budget"], p.warmup_steps, DEFAULT_FRAC)
        for col, step in (("const_B", row["budget"]), ("const_S", start)):
            v = ev.get(step)
            row[col] = float(v) if v is not None else float("nan")
    df = pd.DataFrame(list(rows.values()))
    if df.empty:
        return pd.DataFrame(columns=["seed", "log2_lr", "trunk", "budget", "const_B", "const_S"])
    df["trunk"] = [f"seed {s}, 2^{x:g}" for s, x in zip(df["seed"], df["log2_lr"])]
    front = ["seed", "log2_lr", "trunk", "budget", "const_B", "const_S"]
    return df[front + sorted(c for c in df.columns if c not in front)].sort_values(
        ["seed", "log2_lr", "budget"]).reset_index(drop=True)


def near_optimal(cells, opt, scale: str, frac: float = DEFAULT_FRAC, shape: str = DEFAULT_SHAPE):
    """The rows of :func:`trunk_cells` whose LR lies within :data:`NEAR_STEPS` grid steps of the best grid LR
    of the reference WSD variant (``frac``, ``shape``) at their budget: the trunks a tuned comparison rests on."""
    ref = pick(opt, "wsd", frac, shape)["best_log2_lr"] if len(opt) else {}
    step = chapter_plan(scale).grid_step
    keep = [b in ref.index and abs(x - ref.loc[b]) <= NEAR_STEPS * step + 1e-9 if len(ref) else False
            for x, b in zip(cells["log2_lr"], cells["budget"])]
    return cells[np.asarray(keep, dtype=bool)].reset_index(drop=True)


def cooldown_drops(cells):
    """C3.2 per near-optimal (trunk, budget): the drop of the 20% 1−√ cooldown over its window [S, B] and the
    stable run's drop over the same window, and φ = stable / cooldown."""
    c = cells.copy()
    w = _vkey(DEFAULT_FRAC, DEFAULT_SHAPE)
    if c.empty or w not in c:
        return c.assign(cooldown_drop=[], stable_drop=[], phi=[])
    c["cooldown_drop"] = c["const_S"] - c[w]
    c["stable_drop"] = c["const_S"] - c["const_B"]
    c["phi"] = c["stable_drop"] / c["cooldown_drop"]
    return c[["trunk", "seed", "log2_lr", "budget", "const_S", "const_B", w, "cooldown_drop", "stable_drop", "phi"]]


def comparison_table(opt):
    """Best loss per budget for each protocol and WSD variant (columns), one row per budget."""
    cols = {}
    for prot in ("cosine", "cosine_to_zero", "constant", "multistep"):
        d = pick(opt, prot)
        if len(d):
            cols[LABELS[prot]] = d["best_loss"]
    for (f, s), g in opt[opt["protocol"] == "wsd"].groupby(["decay_frac", "decay_shape"], sort=True):
        cols[f"WSD {f:.1%} {s}"] = g.set_index("budget")["best_loss"]
    return pd.DataFrame(cols).sort_index()


# ----------------------------------------------------------------------------- curves for figures
def schedule_curves(scale: str, budget: int | None = None):
    """LR multiplier per step for each schedule at one budget (default: the second largest), long format."""
    p = chapter_plan(scale)
    b = budget if budget is not None else sorted(p.budgets)[-2 if len(p.budgets) > 1 else -1]
    steps = np.arange(b)
    cfgs = {"cosine (→10%)": ScheduleConfig(name="cosine", warmup_steps=p.warmup_steps, total_steps=b,
                                            final_frac=COSINE_FINAL_FRAC),
            "constant": ScheduleConfig(name="constant", warmup_steps=p.warmup_steps, total_steps=b),
            "multi-step": ScheduleConfig(name="multistep", warmup_steps=p.warmup_steps, total_steps=b)}
    cfgs["cosine (→0)"] = ScheduleConfig(name="cosine", warmup_steps=p.warmup_steps, total_steps=b, final_frac=0.0)
    for shape in (*p.shapes, CONTROL_SHAPE):
        cfgs[f"WSD 20% {shape}"] = ScheduleConfig(name="wsd", warmup_steps=p.warmup_steps, total_steps=b,
                                                  decay_frac=DEFAULT_FRAC, decay_shape=shape, final_frac=0.0)
    for f in p.fractions:
        if f != DEFAULT_FRAC:
            cfgs[f"WSD {f:.1%} 1-sqrt"] = ScheduleConfig(name="wsd", warmup_steps=p.warmup_steps, total_steps=b,
                                                         decay_frac=f, decay_shape=DEFAULT_SHAPE, final_frac=0.0)
    rows = [pd.DataFrame({"schedule": k, "step": steps, "lr_mult": lr_multipliers(c, steps)}) for k, c in cfgs.items()]
    return pd.concat(rows, ignore_index=True)


def loss_curves(records: list[dict], opt):
    """Held-out loss against tokens at each protocol's tuned LR (first seed): cosine per budget, the
    stable run, and the default WSD and multistep branches. Long format."""
    if not records:
        return pd.DataFrame()
    seed0 = min(r["config"]["seed"] for r in records)
    rows = []
    best = {}
    for prot, frac, shape in (("cosine", None, None), ("constant", None, None), ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE),
                              ("multistep", None, None)):
        d = pick(opt, prot, frac, shape)
        if len(d):
            best[prot] = d["best_log2_lr"]
    # one LR for the whole WSD picture (the stable run and its branches): WSD's tuned LR at the largest budget
    w_lr = float(best["wsd"].iloc[-1]) if "wsd" in best else None
    for r in records:
        c, res = r["config"], r["result"]
        if c["seed"] != seed0 or res["status"] != "finished":
            continue
        exp = r["experiment"]
        lg = math.log2(c["lr"])
        if exp == "cosine" and "cosine" in best and c["total_steps"] in best["cosine"].index:
            keep = math.isclose(lg, best["cosine"].loc[c["total_steps"]])
        elif exp == "constant":
            keep = w_lr is not None and math.isclose(lg, w_lr)
        elif exp == "multistep":
            keep = w_lr is not None and math.isclose(lg, w_lr)
        elif exp == "wsd":
            keep = (w_lr is not None and math.isclose(lg, w_lr) and math.isclose(c["decay_frac"], DEFAULT_FRAC)
                    and c["decay_shape"] == DEFAULT_SHAPE)
        else:
            keep = False
        if not keep:
            continue
        ev = res["eval_curve"]
        label = LABELS[exp]
        rows.append(pd.DataFrame({"protocol": exp, "label": label, "budget": c["total_steps"], "log2_lr": lg,
                                  "step": ev["step"], "tokens": ev["tokens"], "loss": ev["loss"],
                                  "start_step": c.get("init_step", 0)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def replicated_budgets(fin, keys) -> list[int]:
    """Budgets at which every seed of the records has runs of every schedule in ``keys``."""
    seeds = sorted(fin["seed"].unique())
    out = []
    for b in sorted(fin["budget"].unique()):
        ok = True
        for prot, f, s in keys:
            d = _select(fin, prot, f, s)
            ok &= set(d.loc[d["budget"] == b, "seed"]) >= set(seeds)
        if ok and len(seeds) >= 2:
            out.append(int(b))
    return out


def _select(fin, prot, frac=None, shape=None):
    d = fin[fin["protocol"] == prot]
    if frac is not None:
        d = d[np.isclose(d["decay_frac"], frac)]
    if shape is not None:
        d = d[d["decay_shape"] == shape]
    return d


# ----------------------------------------------------------------------------- reproducibility across chapters
def _without_eval_schedule(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "eval_every"}


def shared_runs(records: list[dict], other: list[dict]):
    """Runs of this chapter whose training config equals a run of another chapter (evaluation period
    aside, which does not touch training): one row per pair with both final held-out losses.

    At cpu scale the 500-step cosine runs are chapter 1's d64 μP runs at the LRs both grids share;
    trained separately, they must agree to :data:`REPRO_ATOL`.
    """
    theirs = {}
    for r in other:
        theirs.setdefault(stable_hash(_without_eval_schedule(r["config"])), r)
    rows = []
    for r in records:
        o = theirs.get(stable_hash(_without_eval_schedule(r["config"])))
        if o is None or r["result"]["status"] != "finished" or o["result"]["status"] != "finished":
            continue
        a, b = r["result"]["final_eval_loss"], o["result"]["final_eval_loss"]
        rows.append({"protocol": r["experiment"], "steps": r["config"]["total_steps"],
                     "log2_lr": math.log2(r["config"]["lr"]), "seed": r["config"]["seed"], "this_chapter": a,
                     "other_chapter": b, "abs_diff": abs(a - b)})
    cols = ["protocol", "steps", "log2_lr", "seed", "this_chapter", "other_chapter", "abs_diff"]
    return pd.DataFrame(rows, columns=cols).sort_values(["seed", "log2_lr"]).reset_index(drop=True)


def replica_records(records: list[dict]) -> list[dict]:
    """The exponential-cooldown stage's records under the first stage's names (``stable_replica`` → ``constant``,
    ``wsd_replica`` → ``wsd``), so that :func:`finals`, :func:`optima` and :func:`trunk_cells` apply to the
    replicas alone: both cooldown shapes there branch from one replica trunk."""
    names = {REPLICA_TRUNK: "constant", REPLICA_BRANCH: "wsd"}
    return [{**r, "experiment": names[r["experiment"]]} for r in records if r["experiment"] in names]


def replica_reproducibility(records: list[dict]) -> pd.DataFrame:
    """Per grid LR: the constant-LR held-out loss at each budget of the committed stable run (seed 0) and of its
    replica trained again here — how far two trainings of one configuration on two machines land apart."""
    cols = ["log2_lr", "budget", "committed", "replica", "replica − committed"]
    rep = {(r["config"]["seed"], r["config"]["lr"]): r for r in records if r["experiment"] == REPLICA_TRUNK}
    budgets = sorted({x["config"]["total_steps"] for x in records if x["experiment"] == REPLICA_BRANCH})
    rows = []
    for r in records:
        key = (r["config"]["seed"], r["config"]["lr"])
        if r["experiment"] != "constant" or key not in rep:
            continue
        a = dict(zip(r["result"]["eval_curve"]["step"], r["result"]["eval_curve"]["loss"]))
        b = dict(zip(rep[key]["result"]["eval_curve"]["step"], rep[key]["result"]["eval_curve"]["loss"]))
        for t in budgets:
            if t in a and t in b:
                rows.append({"log2_lr": math.log2(r["config"]["lr"]), "budget": t, "committed": a[t],
                             "replica": b[t], "replica − committed": b[t] - a[t]})
    return pd.DataFrame(rows, columns=cols)
