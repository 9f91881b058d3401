"""Typed results and the flat runs table: every committed record parses, diverged runs carry NaN losses."""

import json
import math
from pathlib import Path

import pytest

from scalelab.records import COLUMNS, RunResult, main, runs_frame, schema_markdown

ROOT = Path(__file__).resolve().parents[2]


def _all_records():
    out = []
    for path in sorted((ROOT / "results" / "cpu").glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def test_every_committed_record_parses_into_the_flat_table():
    recs = _all_records()
    df = runs_frame(recs)
    assert len(df) == len(recs) and list(df.columns) == [c for c, _ in COLUMNS]
    fin = df["status"] == "finished"
    assert df.loc[fin, "loss"].notna().all()
    assert df.loc[~fin, "loss"].isna().all()


def test_a_diverged_run_has_a_nan_loss_and_an_unknown_field_is_refused():
    rec = _all_records()[0]
    res = dict(rec["result"], status="diverged", final_eval_loss=None)
    assert math.isnan(RunResult.from_dict(res).loss)
    res_inf = dict(rec["result"], final_eval_loss=float("inf"))
    assert math.isnan(RunResult.from_dict(res_inf).loss)
    with pytest.raises(ValueError, match="unknown result fields"):
        RunResult.from_dict(dict(rec["result"], surprise=1))
    with pytest.raises(ValueError, match="unknown run status"):
        RunResult.from_dict(dict(rec["result"], status="maybe"))


def test_export_writes_one_row_per_run(tmp_path):
    out = tmp_path / "c.csv"
    assert main(["export", "chinchilla", "--scale", "cpu", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    n = sum(1 for line in (ROOT / "results/cpu/chinchilla.jsonl").read_text().splitlines() if line.strip())
    assert len(lines) == n + 1
    assert "| `loss` |" in schema_markdown()
