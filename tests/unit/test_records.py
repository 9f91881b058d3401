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


def test_both_trainers_return_a_typed_result_the_store_writes_as_before(tmp_path):
    import json

    from scalelab.batched import train_batched
    from scalelab.model import ModelConfig
    from scalelab.result import RunResult
    from scalelab.store import make_record
    from scalelab.train import TrainConfig, train

    cfg = TrainConfig(model=ModelConfig(d_model=16, n_layer=1, d_head=8, seq_len=16, base_d_model=16),
                      total_steps=3, batch_size=2, eval_tokens=256)
    one = train(cfg, device="cpu")
    assert isinstance(one, RunResult) and one["status"] == one.status and one.get("device") == "cpu"
    assert "batched" not in one and "batched" not in one.to_dict()
    group = train_batched([cfg, cfg.replace(lr=cfg.lr * 2)], device="cpu")
    assert all(isinstance(r, RunResult) for r in group) and group[0]["batched"]["k"] == 2
    rec = make_record("e", 1, cfg.to_dict(), {"sha256": "x"}, one, 1.0)
    back = json.loads(json.dumps(rec))  # a plain dict the store can write
    assert RunResult.from_dict(back["result"]) == one
    assert RunResult.from_dict(group[0].to_dict()).batched == group[0].batched
