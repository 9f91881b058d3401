"""Benchmarks: ``python -m scalelab.bench [train|batched|fit|all]``.

* ``train``: single-run training throughput on the pinned config (n_layer 4, d_model 128,
  seq_len 128, batch 32, vocab 256, AdamW, fp32 on CPU; on CUDA bf16 and d_model 768, n_layer 12,
  seq_len 1024) and utilisation = 6·N·tokens/s ÷ the matmul peak measured on the same machine,
  in the same process (a large fp32 — or bf16 on CUDA — matrix product).
* ``batched``: K models trained together vs one after another (see :mod:`scalelab.batched`).
* ``fit``: the fitting core's speed (:func:`scalelab.fit.bench_fit`).

Results print as a table and are written as a JSON record under ``results/bench/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from scalelab.model import ModelConfig
from scalelab.train import TrainConfig, resolve_device, train


def matmul_peak(device: torch.device, n: int = 1024, seconds: float = 2.0) -> float:
    """Measured FLOP/s of an n×n matrix product (fp32 on CPU, bf16 on CUDA)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        n = 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0, reps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    sync()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def pinned_config(device: torch.device, steps: int = 30) -> TrainConfig:
    if device.type == "cuda":
        model = ModelConfig(d_model=768, n_layer=12, d_head=64, seq_len=1024, vocab_size=256,
                            base_d_model=768, parametrization="sp")
        return TrainConfig(model=model, total_steps=steps, batch_size=16, eval_tokens=1024 * 8,
                           schedule="constant")
    model = ModelConfig(d_model=128, n_layer=4, d_head=32, seq_len=128, vocab_size=256,
                        base_d_model=128, parametrization="sp")
    return TrainConfig(model=model, total_steps=steps, batch_size=32, eval_tokens=128 * 8, schedule="constant")


def bench_train(device: str = "auto", steps: int = 30) -> dict:
    """Tokens/s and utilisation of the pinned config (the first steps are excluded as warmup)."""
    dev = resolve_device(device)
    cfg = pinned_config(dev, steps)
    peak = matmul_peak(dev)
    train(cfg.replace(total_steps=5), device=str(dev))  # warm caches and allocator
    r = train(cfg, device=str(dev))
    n = r["num_params"]["total"]
    achieved = 6 * n * r["tokens_per_s"]
    return {"config": cfg.to_dict(), "device": str(dev), "num_params": n, "tokens_per_s": r["tokens_per_s"],
            "model_flops_per_s": achieved, "matmul_peak_flops_per_s": peak, "utilisation": achieved / peak,
            "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    from scalelab.envinfo import environment
    from scalelab.paths import repo_root

    ap = argparse.ArgumentParser(prog="python -m scalelab.bench")
    ap.add_argument("what", nargs="?", default="all", choices=["train", "batched", "fit", "all"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    out: dict = {"environment": environment(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.what in ("train", "all"):
        out["train"] = bench_train(args.device)
        t = out["train"]
        print(f"train  {t['device']}: {t['tokens_per_s']:.0f} tokens/s, N={t['num_params']}, "
              f"utilisation {t['utilisation']:.3f} of a measured {t['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s")
    if args.what in ("batched", "all"):
        try:
            from scalelab.batched import bench_batched
        except ImportError:
            bench_batched = None
        if bench_batched is not None:
            out["batched"] = bench_batched(args.device)
            for row in out["batched"]["rows"]:
                print("batched " + "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                             for k, v in row.items()))
    if args.what in ("fit", "all"):
        try:
            from scalelab.fit import bench_fit
        except ImportError:
            bench_fit = None
        if bench_fit is not None:
            try:
                out["fit"] = bench_fit()
            except Exception as err:  # e.g. offline without SCALELAB_ANCHORS_DIR: keep the other results
                print(f"fit    skipped: {err}")
                out["fit_error"] = str(err)
            else:
                print("fit    " + "  ".join(f"{k}={v:.3g}" for k, v in out["fit"].items()
                                            if isinstance(v, (int, float))))
    if not args.no_save:
        dev = out.get("train", {}).get("device", "cpu").split(":")[0]
        path = repo_root() / "results" / "bench" / f"bench_{dev}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=1, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
