"""A dry run of the gpu scale on a CPU: every run's memory, whether it fits a GPU, and the GPU-hours per chapter.

``python -m scalelab.dryrun`` builds every model of every chapter's gpu plan on the ``meta`` device (shapes without
storage; with ``--step`` also one forward and backward per distinct model, so a malformed config fails here),
estimates each run's peak training memory (:func:`memory_estimate`) and checks it against 90% of an 80 GB
(A100/H100 class) and a 141 GB (H200 class) device, and prints each chapter's compute in GPU-hours from its FLOPs
at a stated model-FLOPs utilisation (MFU).

**Memory.** A training step holds (bytes; P parameters, B sequences of T tokens, width d, L layers, vocab V,
activations in ``a`` bytes: 2 under CUDA's bf16 autocast, 4 in fp32):

* weights 4P, gradients 4P, optimizer state 8P (AdamW's two moments; Lion 4P, SGD with momentum 4P);
* under autocast, the bf16 copies of the weights that the matrix products use: 2P;
* activations saved for the backward pass, per layer ``B·T·d·(8 + a·(6 + m))``: the two norm inputs in fp32
  (the residual stream), and in ``a`` bytes the attention's input, q/k/v (3), output (1), the MLP's input and its
  ``m·d`` hidden activations (m = 2·d_ff/d for GELU and squared ReLU, d_ff/d for ReLU, 4·d_ff/d for SwiGLU);
  after the last layer the final norm's input (4) and the readout's input (a);
* the logits (``a`` bytes, held by the caller) and the log-softmax that the loss saves (4 bytes): ``B·T·V·(a+4)``;
* on CUDA, 1.5 GiB for the context, cuBLAS/attention workspaces and allocator slack (a stated allowance).

The activation count follows the model's code (:mod:`scalelab.model`) and is checked in the tests against the bytes
autograd actually saves (``torch.autograd.graph.saved_tensors_hooks``) on CPU, and against a hand count. It is
the same accounting as Korthikanti et al. 2022 (arXiv 2205.05198, eq. 2) for this model's layout: no dropout,
fused attention (no T×T scores kept).

**GPU-hours** = Σ FLOPs / (MFU × peak), with FLOPs = 6·N·D for training plus 2·N per evaluated token (the book's
convention, :func:`scalelab.sweep.estimated_flops`) and the dense bf16 peak of an H100 SXM (989 TFLOP/s). The MFU
is an assumption until ``python -m scalelab.bench train --device cuda`` measures it: 5% by default, because the
gpu plans' models (3–100 M parameters, 128–256 tokens per sequence) are small enough for kernel launches and the
Python loop, not matrix products, to set the pace.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

import torch

from scalelab.corpora import FINEWEB_EDU, max_epochs
from scalelab.model import GPT
from scalelab.scales import validate_scale
from scalelab.sweep import chapter_modules, full_plan

GB = 1e9
GIB = 2**30
DEVICE_GB = {"80 GB (A100/H100)": 80.0, "141 GB (H200)": 141.0}
FIT_FRACTION = 0.9
CUDA_OVERHEAD_BYTES = 1.5 * GIB
BF16_PEAK_FLOPS = {"H100 SXM": 989.4e12, "H200": 989.4e12, "A100": 312e12}
DEFAULT_MFU = 0.05
OPTIMIZER_STATE_BYTES = {"adamw": 8, "lion": 4, "sgd": 4}  # per parameter, fp32 state


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak bytes of one training step, by part (see the module docstring for each formula)."""

    weights: float
    grads: float
    optimizer: float
    weight_casts: float
    activations: float
    logits: float
    overhead: float

    @property
    def total(self) -> float:
        return (self.weights + self.grads + self.optimizer + self.weight_casts + self.activations + self.logits
                + self.overhead)


def mlp_hidden_units(model_cfg) -> float:
    """The MLP's saved hidden activations per token, in units of d_model (``m`` in the module docstring)."""
    per = {"gelu": 2, "squared_relu": 2, "relu": 1, "swiglu": 4}[model_cfg.activation]
    return per * model_cfg.d_ff / model_cfg.d_model


def num_params(model_cfg) -> int:
    """Parameters of :class:`scalelab.model.GPT` counted on the meta device (no memory, no init)."""

    with torch.device("meta"):
        model = GPT(model_cfg)
    return sum(p.numel() for p in model.parameters())


def activation_bytes(model_cfg, batch_size: int, act_bytes: int) -> float:
    """Bytes saved for the backward pass by one forward of ``batch_size`` sequences, logits excluded."""
    d, L, T = model_cfg.d_model, model_cfg.n_layer, model_cfg.seq_len
    btd = batch_size * T * d
    per_layer = 8 + act_bytes * (6 + mlp_hidden_units(model_cfg))
    return btd * (L * per_layer + 4 + act_bytes)


def logits_bytes(model_cfg, batch_size: int, act_bytes: int) -> float:
    """The logits (held by the caller through the backward pass) and the loss's saved log-softmax (fp32)."""
    return batch_size * model_cfg.seq_len * model_cfg.vocab_size * (act_bytes + 4)


def memory_estimate(cfg, device: str = "cuda", n_params: int | None = None) -> MemoryEstimate:
    """Peak memory of one training step of ``cfg`` (a :class:`scalelab.train.TrainConfig`) on ``device``.

    Raises:
        ValueError: on a device other than ``cuda`` or ``cpu``.
    """
    if device not in ("cuda", "cpu"):
        raise ValueError(f"device must be 'cuda' or 'cpu', got {device!r}")
    cuda = device == "cuda"
    a = 2 if cuda else 4  # bf16 autocast on CUDA (scalelab.train), fp32 on CPU
    p = n_params if n_params is not None else num_params(cfg.model)
    return MemoryEstimate(
        weights=4.0 * p, grads=4.0 * p, optimizer=float(OPTIMIZER_STATE_BYTES[cfg.optimizer] * p),
        weight_casts=2.0 * p if cuda else 0.0, activations=activation_bytes(cfg.model, cfg.batch_size, a),
        logits=logits_bytes(cfg.model, cfg.batch_size, a), overhead=CUDA_OVERHEAD_BYTES if cuda else 0.0,
    )


def meta_step(cfg) -> None:
    """One forward and backward of ``cfg``'s model and batch on the meta device: shapes only, no compute."""

    with torch.device("meta"):
        model = GPT(cfg.model)
        idx = torch.zeros(cfg.batch_size, cfg.model.seq_len, dtype=torch.long)
        _, loss = model(idx, idx)
        loss.backward()


def run_flops(cfg, n_params: int) -> float:
    """Training (6·N·D) plus evaluation (2·N per evaluated token) FLOPs of one run."""
    steps = cfg.total_steps - cfg.init_step
    n_evals = 1 + (steps // cfg.eval_every if cfg.eval_every else 0)
    return 6.0 * n_params * cfg.tokens_per_step * steps + 2.0 * n_params * cfg.eval_tokens * n_evals


def chapter_dry_run(module, scale: str = "gpu", seed: int = 0, step: bool = False) -> dict:
    """Build every model of ``module``'s plan at ``scale`` on the meta device and size every run; with ``step``,
    also one meta forward and backward per distinct model (about a second each on a CPU: shape checks through
    torch's Python decompositions)."""

    specs = full_plan(module, scale, seed)  # every stage of the chapter
    params: dict = {}
    stepped: set = set()
    rows = []
    for s in specs:
        m = s.config.model
        if m not in params:
            params[m] = num_params(m)
        if step and m not in stepped:
            meta_step(s.config.replace(batch_size=1))  # the batch changes no shape check, only the time
            stepped.add(m)
        rows.append((s, params[m], memory_estimate(s.config, "cuda", params[m]).total, run_flops(s.config, params[m])))
    if not rows:
        return {"chapter": module.SLUG, "runs": 0, "models": 0, "max_params": 0, "peak_bytes": 0.0,
                "peak_config_key": None, "fits": dict.fromkeys(DEVICE_GB, True), "flops": 0.0, "max_run_tokens": 0}
    biggest = max(rows, key=lambda r: r[2])
    longest = max(rows, key=lambda r: r[0].config.num_tokens)
    return {
        "chapter": module.SLUG, "runs": len(specs), "models": len(params), "max_params": max(params.values()),
        "peak_bytes": biggest[2], "peak_config_key": biggest[0].config_key,
        "fits": {name: biggest[2] <= FIT_FRACTION * gb * GB for name, gb in DEVICE_GB.items()},
        "flops": sum(r[3] for r in rows), "max_run_tokens": longest[0].config.num_tokens,
    }


def gpu_hours(flops: float, mfu: float = DEFAULT_MFU, peak: float = BF16_PEAK_FLOPS["H100 SXM"]) -> float:
    """Hours of one GPU for ``flops`` at utilisation ``mfu`` of ``peak`` FLOP/s.

    Raises:
        ValueError: unless 0 < mfu <= 1.
    """
    if not 0 < mfu <= 1:
        raise ValueError(f"mfu must be in (0, 1], got {mfu}")
    return flops / (mfu * peak) / 3600


def dry_run(scale: str = "gpu", seed: int = 0, step: bool = False) -> list[dict]:
    """:func:`chapter_dry_run` for every chapter, in chapter order."""

    names = sorted({name for key, name in chapter_modules().items() if key[:2].isdigit()},
                   key=lambda n: importlib.import_module(n).NOTEBOOK)
    return [chapter_dry_run(importlib.import_module(n), scale, seed, step) for n in names]


def main(argv: list[str] | None = None) -> int:

    ap = argparse.ArgumentParser(prog="python -m scalelab.dryrun", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="gpu")
    ap.add_argument("--mfu", type=float, default=DEFAULT_MFU, help=f"assumed MFU (default {DEFAULT_MFU})")
    ap.add_argument("--gpu", default="H100 SXM", choices=sorted(BF16_PEAK_FLOPS), help="whose bf16 peak")
    ap.add_argument("--step", action="store_true", help="also a forward and backward per model on the meta device")
    args = ap.parse_args(argv)
    try:
        validate_scale(args.scale)
        gpu_hours(1.0, args.mfu)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    torch.set_num_threads(1)
    peak = BF16_PEAK_FLOPS[args.gpu]
    rows = dry_run(args.scale, step=args.step)
    print(f"{args.scale} plans on the meta device; memory against {FIT_FRACTION:.0%} of each device; GPU-hours at "
          f"MFU {args.mfu:g} of the {args.gpu} bf16 peak ({peak / 1e12:.0f} TFLOP/s)")
    print(f"{'chapter':24} {'runs':>5} {'max N':>12} {'peak GB':>8} {'fits 80':>8} {'fits 141':>8} "
          f"{'PFLOP':>9} {'GPU-h':>8}")
    for r in rows:
        fits = list(r["fits"].values())
        print(f"{r['chapter']:24} {r['runs']:5d} {r['max_params']:12,d} {r['peak_bytes'] / GB:8.2f} "
              f"{'yes' if fits[0] else 'NO':>8} {'yes' if fits[1] else 'NO':>8} {r['flops'] / 1e15:9.1f} "
              f"{gpu_hours(r['flops'], args.mfu, peak):8.1f}")
    total = sum(r["flops"] for r in rows)
    longest = max(r["max_run_tokens"] for r in rows)
    print(f"{'all':24} {sum(r['runs'] for r in rows):5d} {'':12} {'':8} {'':8} {'':8} {total / 1e15:9.1f} "
          f"{gpu_hours(total, args.mfu, peak):8.1f}")
    print(f"longest run: {longest:.3g} byte tokens = at most {max_epochs(longest):.2f} epochs of {FINEWEB_EDU.name} "
          f"(text ≥ {FINEWEB_EDU.min_text_bytes / GB:.2f} GB)")
    return 0 if all(all(r["fits"].values()) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
