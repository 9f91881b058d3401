"""The trainer: one function, ``train(cfg) -> RunResult``.

It trains :class:`scalelab.model.GPT` on a byte-level corpus (:mod:`scalelab.data`) and returns
what the chapters need: the train-loss curve, periodic held-out evaluations, the final held-out
loss (nats per byte), the steps and tokens **actually processed** (counted here, not derived from
the config), FLOPs, wall time and throughput.

* Deterministic on CPU for a fixed seed: the init is seeded, and each step's batch is a pure
  function of (seed, step), so a run resumed from a checkpoint sees the same data.
* ``device="auto"`` picks CUDA when present and then trains under bf16 autocast.
* Divergence is a result: a non-finite loss, or a loss above 1.5·ln(vocab) (50% worse than a
  uniform guess) after warmup, stops the run and it is returned with ``status="diverged"``.
* Checkpoints: ``checkpoint_steps`` saves model + optimizer state at those steps (for WSD
  cooldown branches, chapter 3); a run started from a checkpoint records its sha256. Checkpoints
  are loaded with ``weights_only=True``.

Used by every chapter through :mod:`scalelab.sweep`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from scalelab.data import (
    as_tensor,
    batch_offsets,
    eval_offsets,
    get_batch,
    load_corpus,
    validate_corpus_name,
)
from scalelab.model import GPT, ModelConfig
from scalelab.optim import OPTIMIZERS, WD_MODES, build_optimizer
from scalelab.result import RunResult
from scalelab.schedules import ScheduleConfig, lr_multiplier

DEVICES = ("auto", "cpu", "cuda")
CURVE_POINTS = 256


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; its dict (with the corpus fingerprint) is the run's key.

    The schedule fields mirror :class:`scalelab.schedules.ScheduleConfig`. ``init_from`` names the
    key of the run whose checkpoint at step ``init_step`` this run starts from (a WSD cooldown
    branch); the data order continues exactly as in the parent.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: str = "adamw"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.0
    wd_mode: str = "torch"
    grad_clip: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    final_frac: float = 0.1
    decay_frac: float = 0.2
    decay_shape: str = "linear"
    total_steps: int = 100
    batch_size: int = 16
    eval_every: int = 0
    eval_tokens: int = 65536
    checkpoint_steps: tuple[int, ...] = ()
    init_from: str | None = None
    init_step: int = 0
    corpus: str = "stdlib"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.wd_mode not in WD_MODES:
            raise ValueError(f"unknown wd_mode {self.wd_mode!r}; valid: {', '.join(WD_MODES)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be >= 0")
        for name in ("total_steps", "batch_size", "eval_tokens"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0, got {self.eval_every}")
        if not 0 <= self.init_step < self.total_steps:
            raise ValueError(f"init_step must be in [0, total_steps), got {self.init_step}")
        if (self.init_from is None) != (self.init_step == 0):
            raise ValueError("init_from and init_step > 0 go together (a branch starts from a checkpoint)")
        if any(not 0 < s < self.total_steps for s in self.checkpoint_steps):
            raise ValueError(f"checkpoint_steps must lie in (0, total_steps), got {self.checkpoint_steps}")
        validate_corpus_name(self.corpus)
        _ = self.schedule_config  # building it validates the schedule fields

    @property
    def schedule_config(self) -> ScheduleConfig:
        return ScheduleConfig(
            name=self.schedule, warmup_steps=self.warmup_steps, total_steps=self.total_steps,
            final_frac=self.final_frac, decay_frac=self.decay_frac, decay_shape=self.decay_shape,
        )

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.model.seq_len

    @property
    def num_tokens(self) -> int:
        """D: tokens the config asks for (the trainer reports what it actually processed)."""
        return self.tokens_per_step * self.total_steps

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        d["checkpoint_steps"] = list(self.checkpoint_steps)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["model"] = ModelConfig(**d["model"])
        d["betas"] = tuple(d["betas"])
        d["checkpoint_steps"] = tuple(d.get("checkpoint_steps", ()))
        return cls(**d)

    def replace(self, **changes) -> TrainConfig:
        """A copy with fields changed; model fields (``d_model=…``) are routed to ``model``."""
        model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
        mchanges = {k: v for k, v in changes.items() if k in model_fields}
        tchanges = {k: v for k, v in changes.items() if k not in model_fields}
        unknown = set(tchanges) - {f.name for f in dataclasses.fields(TrainConfig)}
        if unknown:
            raise ValueError(f"unknown config fields {sorted(unknown)}")
        model = dataclasses.replace(self.model, **mchanges) if mchanges else self.model
        return dataclasses.replace(self, model=model, **tchanges)


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA if available, else CPU.

    Raises:
        ValueError: on an unknown device name.
    """
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def num_params(model: GPT) -> dict[str, int]:
    """Parameter counts: ``total``; ``non_embedding`` excludes token, position and readout
    matrices (Kaplan et al. 2020's N)."""
    total = sum(p.numel() for p in model.parameters())
    emb = model.wte.weight.numel() + model.wpe.weight.numel()
    readout = 0 if model.readout is None else model.readout.weight.numel()
    return {"total": total, "embedding": emb, "readout": readout, "non_embedding": total - emb - readout}


def downsample(steps: list[int], values: list[float], n: int = CURVE_POINTS) -> tuple[list[int], list[float]]:
    """At most ``n`` points: means over consecutive bins, labelled by each bin's last step."""
    if len(steps) <= n:
        return list(steps), [float(v) for v in values]
    edges = [round(i * len(steps) / n) for i in range(n + 1)]
    s_out, v_out = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        s_out.append(int(steps[b - 1]))
        v_out.append(float(sum(values[a:b]) / (b - a)))
    return s_out, v_out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@torch.no_grad()
def evaluate(model: GPT, val: torch.Tensor, offsets: torch.Tensor, seq_len: int, device, batch: int = 64) -> float:
    """Mean held-out cross-entropy (nats per byte) over fixed windows."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(offsets), batch):
        x, y = get_batch(val, offsets[i:i + batch], seq_len)
        with _autocast(device):
            _, loss = model(x.to(device), y.to(device))
        total += float(loss) * len(x)
        count += len(x)
    model.train()
    return total / count


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def train(
    cfg: TrainConfig,
    *,
    device: str = "auto",
    ckpt_dir: str | Path | None = None,
    init_checkpoint: str | Path | None = None,
    stop_at: int | None = None,
) -> RunResult:
    """Train one model and return its result dict (see the module docstring).

    Args:
        cfg: the run's configuration.
        device: ``auto``, ``cpu`` or ``cuda``; not part of the run's key.
        ckpt_dir: where ``cfg.checkpoint_steps`` checkpoints go (required if any are asked for).
        init_checkpoint: the parent checkpoint for a branch (``cfg.init_from``).
        stop_at: stop after this step (used to recreate a checkpoint of a recorded run without
            training it to the end); the result is then partial and must not be recorded.

    Raises:
        ValueError: when a branch has no checkpoint, or the checkpoint's step does not match.
    """
    dev = resolve_device(device)
    if stop_at is not None and not cfg.init_step < stop_at <= cfg.total_steps:
        raise ValueError(f"stop_at must lie in ({cfg.init_step}, {cfg.total_steps}], got {stop_at}")
    if cfg.checkpoint_steps and ckpt_dir is None:
        raise ValueError("checkpoint_steps needs ckpt_dir")
    if cfg.init_from is not None and init_checkpoint is None:
        raise ValueError(f"run branches from {cfg.init_from[:12]}… at step {cfg.init_step}: pass init_checkpoint")
    corpus = load_corpus(cfg.corpus)
    train_tokens = as_tensor(corpus.train)
    val_tokens = as_tensor(corpus.val)
    mcfg = cfg.model
    torch.manual_seed(cfg.seed)
    model = GPT(mcfg).to(dev)
    opt = build_optimizer(model, optimizer=cfg.optimizer, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                          weight_decay=cfg.weight_decay, wd_mode=cfg.wd_mode)
    sched = cfg.schedule_config
    start = 0
    parent_sha = None
    if init_checkpoint is not None:
        parent_sha = file_sha256(Path(init_checkpoint))
        state = torch.load(init_checkpoint, map_location=dev, weights_only=True)
        if int(state["step"]) != cfg.init_step:
            raise ValueError(f"checkpoint is at step {int(state['step'])}, config says {cfg.init_step}")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = cfg.init_step
    ev_off = eval_offsets(len(val_tokens), mcfg.seq_len, cfg.eval_tokens)
    # A branch measures the held-out loss of the checkpoint it starts from: when the checkpoint was recreated on
    # another machine or thread count (bitwise different, numerically the same run), this is what shows that it is
    # the parent's state at init_step (scalelab.checks.branches_reuse_checkpoints). No RNG is drawn.
    start_eval = evaluate(model, val_tokens, ev_off, mcfg.seq_len, dev) if init_checkpoint is not None else None
    diverge_at = 1.5 * math.log(mcfg.vocab_size)
    train_steps, train_losses = [], []
    eval_steps, eval_losses = [], []
    checkpoints = {}
    status = "finished"
    steps_done = 0
    tokens_done = 0
    train_seconds = 0.0
    t_start = time.perf_counter()
    for step in range(start, cfg.total_steps):
        t0 = time.perf_counter()
        mult = lr_multiplier(sched, step)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * g["lr_mult"] * mult
        x, y = get_batch(train_tokens, batch_offsets(len(train_tokens), mcfg.seq_len, cfg.batch_size, cfg.seed, step),
                         mcfg.seq_len)
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        with _autocast(dev):
            _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        lval = float(loss.detach())
        steps_done += 1
        tokens_done += x.numel()
        train_seconds += time.perf_counter() - t0
        train_steps.append(step + 1)
        train_losses.append(lval)
        if not math.isfinite(lval) or (step >= cfg.warmup_steps and lval > diverge_at):
            status = "diverged"
            break
        done = step + 1
        if (cfg.eval_every and done % cfg.eval_every == 0) or done == cfg.total_steps:
            eval_steps.append(done)
            eval_losses.append(evaluate(model, val_tokens, ev_off, mcfg.seq_len, dev))
        if done in cfg.checkpoint_steps:
            path = Path(ckpt_dir) / f"step{done}.pt"
            path.parent.mkdir(parents=True, exist_ok=True)
            # A unique temporary *directory* (two trainers of one config must not collide) holding the file under
            # its canonical name: torch.save names the archive inside the file after the file's stem, so a unique
            # file name would change the checkpoint's sha256, which branches record and the chapters check.
            tmp_dir = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
            tmp_dir.mkdir()
            tmp = tmp_dir / f"{path.stem}.tmp"
            torch.save({"step": done, "model": model.state_dict(), "optimizer": opt.state_dict()}, tmp)
            tmp.replace(path)
            tmp_dir.rmdir()
            checkpoints[str(done)] = {"path": str(path), "sha256": file_sha256(path)}
        if stop_at is not None and done >= stop_at:
            status = "stopped"
            break
    wall = time.perf_counter() - t_start
    counts = num_params(model)
    ts, tl = downsample(train_steps, train_losses)
    final_eval = eval_losses[-1] if (status == "finished" and eval_losses) else None
    if final_eval is not None and not math.isfinite(final_eval):
        status, final_eval = "diverged", None
    return RunResult(**{
        "status": status,
        "steps": steps_done,
        "tokens": tokens_done,
        "start_step": start,
        "flops": 6.0 * counts["total"] * tokens_done,
        "flops_convention": "6 * num_params(total) * tokens processed",
        "num_params": counts,
        "final_eval_loss": final_eval,
        "final_train_loss": train_losses[-1] if train_losses else None,
        "train_curve": {"step": ts, "loss": tl},
        "eval_curve": {
            "step": eval_steps,
            "tokens": [s * cfg.tokens_per_step for s in eval_steps],
            "loss": eval_losses,
        },
        "wall_s": wall,
        "tokens_per_s": tokens_done / train_seconds if train_seconds else 0.0,
        "device": str(dev),
        "parent_checkpoint_sha256": parent_sha,
        "start_eval_loss": start_eval,
        "checkpoints": checkpoints,
    })
