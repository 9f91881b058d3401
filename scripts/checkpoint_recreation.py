"""Measure how exactly this machine recreates chapter 3's stable-run checkpoints.

For every constant-LR stable run of chapter 3's first stage (seed 0) it retrains the run from scratch to the
first cooldown start (``--step``, 400 at cpu scale) the way ``scalelab.runner.recreate_checkpoint`` does, and
compares with the committed record: the sha256 of the checkpoint and the held-out loss at every evaluation step
up to it. Writes ``results/measurements/checkpoint_recreation_<scale>.json`` with the machine, versions and
thread count, which chapter 3's page reads.

    python scripts/checkpoint_recreation.py [--scale cpu] [--step 400] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import tempfile
from pathlib import Path

import torch

from scalelab.experiments import wsd_vs_cosine as ch
from scalelab.paths import repo_root, results_path
from scalelab.store import RunStore
from scalelab.train import file_sha256, train


def measure(scale: str, step: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    have = RunStore(results_path(ch.SLUG, scale)).by_config_key()
    rows = []
    for sp in ch.plan(scale, seed=0):
        if sp.experiment != "constant" or sp.config.seed != 0:
            continue
        rec = have[sp.config_key]
        curve = dict(zip(rec["result"]["eval_curve"]["step"], rec["result"]["eval_curve"]["loss"]))
        with tempfile.TemporaryDirectory() as tmp:
            res = train(sp.config.replace(checkpoint_steps=(step,)), device="cpu", ckpt_dir=tmp, stop_at=step)
            sha = file_sha256(Path(tmp) / f"step{step}.pt")
        again = dict(zip(res["eval_curve"]["step"], res["eval_curve"]["loss"]))
        steps = sorted(set(curve) & set(again))
        rows.append({"lr": sp.config.lr, "log2_lr": float(torch.log2(torch.tensor(sp.config.lr))),
                     "config_key": sp.config_key,
                     "sha256_equal": sha == rec["result"]["checkpoints"].get(str(step), {}).get("sha256"),
                     "eval_steps": steps, "recorded": [curve[s] for s in steps], "recreated": [again[s] for s in steps],
                     "abs_diff_at_step": abs(again[step] - curve[step]) if step in curve and step in again else None,
                     "recorded_meta": rec["meta"]})
    git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=repo_root()).stdout.strip()
    return {"scale": scale, "step": step, "threads": threads, "torch": torch.__version__,
            "platform": platform.platform(), "processor": platform.processor(), "git_sha": git,
            "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "runs": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="cpu", choices=("smoke", "cpu", "gpu"))
    ap.add_argument("--step", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    out = measure(a.scale, a.step, a.threads)
    path = repo_root() / "results" / "measurements" / f"checkpoint_recreation_{a.scale}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    for r in out["runs"]:
        d = r["abs_diff_at_step"]
        print(f"2^{r['log2_lr']:+.1f}  sha equal {r['sha256_equal']}  |Δ eval| at {a.step}: {d:.3g}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
