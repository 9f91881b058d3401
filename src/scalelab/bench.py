"""Benchmarks: ``python -m scalelab.bench [train|batched|fit|all]``.

* ``train``: single-run training throughput on the pinned config (n_layer 4, d_model 128,
  seq_len 128, batch 32, vocab 256, AdamW, fp32 on CPU; on CUDA bf16 and d_model 768, n_layer 12,
  seq_len 1024) and utilisation = 6·N·tokens/s ÷ the matmul peak measured on the same machine,
  in the same process (a large fp32 — or bf16 on CUDA — matrix product). On CUDA also the MFU:
  6·N·tokens/s ÷ the device's published dense bf16 peak (:data:`BF16_PEAK`). ``--compile`` adds
  the same model's step loop with and without ``torch.compile``, on CUDA only: on CPU it measured
  0.93–1.06× of eager, so it stays off there.
* ``batched``: K models trained together vs one after another (see :mod:`scalelab.batched`).
* ``decide``: the benchmark that decides whether a sweep should batch K same-shape runs
  (:func:`prefer_batched`). On the 2-core CPU, shared with a running sweep (d_model 64, K 4, 10 steps), two runs
  gave batched 0.71× and 1.06× the speed of sequential: within its noise margin, so batching stays off on CPU
  (the performance page's cleaner measurement: 0.42–0.85×); on CUDA it is still to be measured.
* ``fit``: the fitting core's speed (:func:`scalelab.fit.bench_fit`).

Results print as a table and are written as a JSON record under ``results/bench/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from scalelab import batched
from scalelab.dryrun import num_params
from scalelab.envinfo import environment
from scalelab.fit import bench_fit
from scalelab.model import GPT, ModelConfig
from scalelab.optim import build_optimizer
from scalelab.paths import repo_root
from scalelab.runner import worker_pool
from scalelab.train import TrainConfig, _autocast, resolve_device, train


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


# Dense bf16 peak FLOP/s by device name (vendor data sheets, without sparsity); matched in order, first hit wins.
BF16_PEAK = (
    ("H100 PCIe", 756e12), ("H100", 989.4e12), ("H200", 989.4e12), ("GH200", 989.4e12), ("A100", 312e12),
    ("L40S", 362e12), ("L4", 121e12), ("A10", 125e12), ("RTX 4090", 165.2e12),
)


def bf16_peak(device_name: str) -> float | None:
    """The dense bf16 peak of a CUDA device by its name, or None for a device not in :data:`BF16_PEAK`."""
    for key, peak in BF16_PEAK:
        if key in device_name:
            return peak
    return None


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
    out = {"config": cfg.to_dict(), "device": str(dev), "num_params": n, "tokens_per_s": r["tokens_per_s"],
           "model_flops_per_s": achieved, "matmul_peak_flops_per_s": peak, "utilisation": achieved / peak,
           "threads": torch.get_num_threads()}
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        out.update(device_name=name, bf16_peak_flops_per_s=bf16_peak(name))
        out["mfu"] = achieved / out["bf16_peak_flops_per_s"] if out["bf16_peak_flops_per_s"] else None
    return out


def step_loop_tokens_per_s(cfg: TrainConfig, device: torch.device, compile: bool = False, steps: int = 20,
                           warmup: int = 5) -> float:
    """Tokens/s of the training step (forward, backward, AdamW) on random tokens, eager or ``torch.compile``d.

    Raises:
        ValueError: ``compile`` on a CPU (measured 0.93–1.06× of eager there, so it is off).
    """

    if compile and device.type != "cuda":
        raise ValueError("torch.compile is a CUDA option: on CPU it measured 0.93–1.06× of eager, so it stays off")
    torch.manual_seed(cfg.seed)
    model = GPT(cfg.model).to(device)
    opt = build_optimizer(model, lr=cfg.lr)
    step_model = torch.compile(model) if compile else model
    idx = torch.randint(0, cfg.model.vocab_size, (cfg.batch_size, cfg.model.seq_len), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            sync()
            t0 = time.perf_counter()
        with _autocast(device):
            _, loss = step_model(idx, idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    return steps * cfg.tokens_per_step / (time.perf_counter() - t0)


def bench_compile(device: str = "cuda", steps: int = 20) -> dict:
    """The pinned config's step loop eager and compiled (CUDA only); MFU against the device's bf16 peak."""
    dev = resolve_device(device)
    cfg = pinned_config(dev)
    eager = step_loop_tokens_per_s(cfg, dev, compile=False, steps=steps)
    compiled = step_loop_tokens_per_s(cfg, dev, compile=True, steps=steps)

    n = num_params(cfg.model)
    peak = bf16_peak(torch.cuda.get_device_name(dev))
    return {"eager_tokens_per_s": eager, "compiled_tokens_per_s": compiled, "speedup": compiled / eager,
            "mfu_eager": 6 * n * eager / peak if peak else None,
            "mfu_compiled": 6 * n * compiled / peak if peak else None}


# Batch only when it measures this much faster: two runs on the shared 2-core CPU gave 0.71× and 1.06×, so a
# difference under 10% is noise there.
BATCHED_MARGIN = 1.1


def prefer_batched(device: str = "auto", d_model: int = 64, n_layer: int = 2, seq_len: int = 128,
                   batch_size: int = 16, k: int = 4, steps: int = 10) -> dict:
    """Whether K same-shape runs train faster batched (:func:`scalelab.batched.train_batched`) than one after
    another (:func:`scalelab.train.train`) on this machine: the benchmark that decides where batching is used.

    Both sides train the same K configs (learning rates ½ octave apart, seeds 0…K-1) for ``steps`` steps after a
    warm-up run. Returns the two wall times, the speedup (sequential / batched) and ``use_batched``: a speedup
    above :data:`BATCHED_MARGIN`.
    """
    dev = resolve_device(device)
    base = TrainConfig(model=ModelConfig(d_model=d_model, n_layer=n_layer, d_head=16, seq_len=seq_len,
                                         base_d_model=min(64, d_model)),
                       total_steps=steps, batch_size=batch_size, eval_tokens=seq_len * 16, schedule="constant")
    cfgs = [base.replace(lr=1e-3 * 2 ** (i / 2), seed=i) for i in range(k)]
    train(base.replace(total_steps=2), device=str(dev))  # warm caches and the allocator
    batched.train_batched([c.replace(total_steps=2) for c in cfgs], device=str(dev))
    t0 = time.perf_counter()
    for c in cfgs:
        train(c, device=str(dev))
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched.train_batched(cfgs, device=str(dev))
    together = time.perf_counter() - t0
    return {"device": str(dev), "d_model": d_model, "k": k, "steps": steps, "sequential_s": sequential,
            "batched_s": together, "speedup": sequential / together,
            "use_batched": sequential / together > BATCHED_MARGIN}


def _train_quiet(cfg, device):
    train(cfg, device=device)
    return None


def bench_batched(device: str = "auto", widths=(64, 128, 256), ks=(1, 2, 4, 8), steps: int = 20,
                  jobs: int | None = None) -> dict:
    """Wall time of K configs three ways, in one process run: one after another through the same
    trainer in this warm process (``sequential``, torch's default threads), stacked in one batched
    model (``batched``), and side by side on ``jobs`` worker processes with cores/jobs threads each
    (``parallel``; CPU only, default: one worker per core; the pool is started and warmed first)."""


    dev = resolve_device(device)
    pool = None
    if dev.type == "cpu":
        jobs = jobs or (os.cpu_count() or 1)
        pool = worker_pool(jobs)
    rows = []
    try:
        for d in widths:
            base = TrainConfig(model=ModelConfig(d_model=d, n_layer=2, d_head=16, seq_len=128, base_d_model=64),
                               total_steps=steps, batch_size=16, eval_tokens=128 * 16, schedule="constant")
            train(base.replace(total_steps=3), device=device)  # warm up
            if pool is not None:
                list(pool.map(_train_quiet, [base.replace(total_steps=3)] * jobs, [device] * jobs))
            for k in ks:
                cfgs = [base.replace(lr=1e-3 * 2 ** (i / 2), seed=i) for i in range(k)]
                t0 = time.perf_counter()
                for c in cfgs:
                    train(c, device=device)
                seq = time.perf_counter() - t0
                t0 = time.perf_counter()
                batched.train_batched(cfgs, device=device)
                bat = time.perf_counter() - t0
                row = {"d_model": d, "K": k, "sequential_s": seq, "batched_s": bat, "speedup": seq / bat}
                if pool is not None:
                    t0 = time.perf_counter()
                    list(pool.map(_train_quiet, cfgs, [device] * k))
                    par = time.perf_counter() - t0
                    row.update(parallel_s=par, parallel_speedup=seq / par)
                rows.append(row)
    finally:
        if pool is not None:
            pool.shutdown()
    return {"steps": steps, "rows": rows, "jobs": jobs, "threads_sequential": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:

    ap = argparse.ArgumentParser(prog="python -m scalelab.bench")
    ap.add_argument("what", nargs="?", default="all", choices=["train", "batched", "decide", "fit", "all"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--compile", action="store_true", help="train: also the step loop under torch.compile (CUDA only)")
    ap.add_argument("--d-model", type=int, default=64, help="decide: the width of the K runs")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    try:
        dev = resolve_device(args.device)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    if args.compile and dev.type != "cuda":
        raise SystemExit("--compile is a CUDA option: on CPU torch.compile measured 0.93–1.06× of eager, so it is off")
    out: dict = {"environment": environment(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.what in ("train", "all"):
        out["train"] = bench_train(args.device)
        t = out["train"]
        print(f"train  {t['device']}: {t['tokens_per_s']:.0f} tokens/s, N={t['num_params']}, "
              f"utilisation {t['utilisation']:.3f} of a measured {t['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s")
        if t.get("mfu") is not None:
            print(f"train  MFU {t['mfu']:.3f} of the {t['device_name']} bf16 peak "
                  f"({t['bf16_peak_flops_per_s'] / 1e12:.0f} TFLOP/s)")
        elif dev.type == "cuda":
            print(f"train  MFU unknown: no bf16 peak listed for {t['device_name']} (scalelab.bench.BF16_PEAK)")
        if args.compile:
            out["compile"] = c = bench_compile(args.device)
            print(f"compile {c['compiled_tokens_per_s']:.0f} vs eager {c['eager_tokens_per_s']:.0f} tokens/s "
                  f"({c['speedup']:.2f}×)")
    if args.what == "decide":
        out["decide"] = d = prefer_batched(args.device, d_model=args.d_model)
        verdict = "batch" if d["use_batched"] else "one by one"
        print(f"decide {d['device']} d_model={d['d_model']} K={d['k']}: sequential {d['sequential_s']:.2f} s, "
              f"batched {d['batched_s']:.2f} s ({d['speedup']:.2f}×) -> {verdict}")
        return 0  # printed only: the decision belongs to the machine it was measured on
    if args.what in ("batched", "all"):
        out["batched"] = bench_batched(args.device)
        for row in out["batched"]["rows"]:
            print("batched " + "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in row.items()))
    if args.what in ("fit", "all"):
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
