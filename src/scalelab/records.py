"""Typed run results and one flat table of runs: what a record holds, read the same way by every chapter.

A record (one line of ``results/<scale>/<chapter>.jsonl``, written by :func:`scalelab.store.make_record`) is
``{key, config_key, experiment, version, config, corpus, result, meta}``. :class:`RunResult` types its
``result`` part (what :func:`scalelab.train.train` returns); :func:`runs_frame` turns records into one canonical
flat table, one row per run, with ``loss`` NaN unless the run finished with a finite held-out loss — so a diverged
run is a row (its LR was tried) that no statistic can mistake for a measurement. :func:`export_csv` writes a
chapter's runs as that table, so readers can use the data without the package, and :func:`schema_markdown`
documents every column for the book's record-schema page.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd

from scalelab.paths import build_dir, results_path
from scalelab.result import STATUSES, RunResult  # noqa: E402,F401  (re-exported: the records' schema)
from scalelab.store import RunStore

# (column, description) of the flat table, in order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "the run's content address: sha256 of (experiment, version, config, corpus fingerprint)"),
    ("config_key", "the same without the corpus; records-only rendering matches on it"),
    ("experiment", "the protocol or ablation inside the chapter (e.g. cosine, wsd, baseline)"),
    ("version", "the chapter experiment's version"),
    ("seed", "the run's seed (initialisation and data order)"),
    ("d_model", "model width"),
    ("n_layer", "transformer blocks"),
    ("parametrization", "mup or sp"),
    ("optimizer", "adamw or lion"),
    ("lr", "peak learning rate (base LR; μP multiplies it per parameter group)"),
    ("log2_lr", "log2 of lr"),
    ("batch_size", "sequences per step"),
    ("seq_len", "bytes per sequence"),
    ("tokens_per_step", "batch_size · seq_len (bytes)"),
    ("schedule", "LR schedule name"),
    ("decay_frac", "WSD cooldown fraction"),
    ("decay_shape", "WSD cooldown shape"),
    ("final_frac", "final LR as a fraction of the peak"),
    ("total_steps", "the schedule's length in steps"),
    ("init_from", "config_key of the run a branch starts from (empty for runs from scratch)"),
    ("init_step", "the step a branch starts from"),
    ("status", "finished or diverged"),
    ("loss", "final held-out loss, nats per byte; NaN unless finished with a finite loss"),
    ("final_train_loss", "last training loss, nats per byte"),
    ("steps", "steps this run actually took"),
    ("tokens", "tokens (bytes) this run actually processed"),
    ("flops", "6 · N_total · tokens"),
    ("n_params", "total parameters"),
    ("n_params_non_embedding", "parameters outside token, position and readout matrices"),
    ("corpus", "corpus name"),
    ("corpus_sha256", "sha256 of the corpus token stream"),
    ("device", "where the run trained"),
    ("torch", "torch version"),
    ("seconds", "wall seconds of the run, including evaluation"),
    ("git_sha", "the package's commit when the run was made"),
)


def _row(r: dict) -> dict:
    c, m, meta = r["config"], r["config"]["model"], r.get("meta", {})
    res = RunResult.from_dict(r["result"])
    return {
        "key": r["key"], "config_key": r["config_key"], "experiment": r["experiment"], "version": r["version"],
        "seed": c["seed"], "d_model": m["d_model"], "n_layer": m["n_layer"], "parametrization": m["parametrization"],
        "optimizer": c["optimizer"], "lr": c["lr"], "log2_lr": math.log2(c["lr"]), "batch_size": c["batch_size"],
        "seq_len": m["seq_len"], "tokens_per_step": c["batch_size"] * m["seq_len"], "schedule": c["schedule"],
        "decay_frac": c["decay_frac"], "decay_shape": c["decay_shape"], "final_frac": c["final_frac"],
        "total_steps": c["total_steps"], "init_from": c.get("init_from") or "", "init_step": c["init_step"],
        "status": res.status, "loss": res.loss,
        "final_train_loss": math.nan if res.final_train_loss is None else res.final_train_loss,
        "steps": res.steps, "tokens": res.tokens, "flops": res.flops, "n_params": res.num_params["total"],
        "n_params_non_embedding": res.num_params["non_embedding"], "corpus": r["corpus"].get("name", ""),
        "corpus_sha256": r["corpus"].get("sha256", ""), "device": res.device, "torch": meta.get("torch", ""),
        "seconds": meta.get("seconds", math.nan), "git_sha": meta.get("git_sha") or "",
    }


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record with the columns of :data:`COLUMNS` (see :func:`schema_markdown`).

    Raises:
        ValueError: a record whose ``result`` does not match :class:`RunResult`.
    """
    cols = [c for c, _ in COLUMNS]
    return pd.DataFrame([_row(r) for r in records], columns=cols)


def export_csv(slug: str, scale: str = "cpu", path: str | Path | None = None) -> Path:
    """Write a chapter's committed runs at ``scale`` as CSV (one row per run); returns the path.

    Raises:
        FileNotFoundError: when the chapter has no store at that scale.
    """

    store = RunStore(results_path(slug, scale))
    if not store.path.exists():
        raise FileNotFoundError(f"no records for chapter {slug!r} at scale {scale!r}: {store.path}")
    out = Path(path) if path is not None else build_dir() / "csv" / scale / f"{slug}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    runs_frame(store.records()).to_csv(out, index=False)
    return out


def schema_markdown() -> str:
    """The record schema as a markdown page (generated into the book)."""
    lines = [
        "# Run records: schema and CSV export",
        "",
        "Every run the book reports is one JSON line in `results/<scale>/<chapter>.jsonl` with the fields "
        "`key`, `config_key`, `experiment`, `version`, `config` (the full training configuration), `corpus` (its "
        "fingerprint), `result` and `meta` (git sha, device, torch and Python versions, seconds).",
        "",
        "`python -m scalelab.records export <chapter> --scale cpu` writes a chapter's runs as CSV, one row per run, "
        "with these columns (`loss` is NaN unless the run finished with a finite held-out loss):",
        "",
        "| column | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{c}` | {d} |" for c, d in COLUMNS]
    lines += ["", "The `result` object of a record:", "", "| field | type |", "|---|---|"]
    lines += [f"| `{f.name}` | `{f.type}` |" for f in fields(RunResult)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scalelab.records", description="Export run records as CSV.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="write a chapter's runs as CSV")
    ex.add_argument("chapter", help="chapter slug, e.g. wsd_vs_cosine")
    ex.add_argument("--scale", default="cpu", choices=("smoke", "cpu", "gpu"))
    ex.add_argument("--out", default=None, help="CSV path (default: _build/csv/<scale>/<chapter>.csv)")
    args = ap.parse_args(argv)
    try:
        print(export_csv(args.chapter, args.scale, args.out))
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
