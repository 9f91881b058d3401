"""Batched training: K same-shape models trained together in one process.

Most of the book's compute goes into sweeps of many small models that differ only in their
learning rate, seed or schedule. Trained one by one, each small model pays Python and kernel-launch
overhead on every step, and a GPU idles. Here the K models' parameters are stacked along a leading
dimension (``torch.func.stack_module_state``) and one forward/backward runs all of them through
``torch.func.vmap`` of ``functional_call`` — every matrix product becomes one batched product.
We chose vmap over hand-written grouped layers so that the model stays the one readable
:class:`scalelab.model.GPT`: the batched path cannot drift from the single-run path.

Each member keeps its own

* initialisation (its own seed, exactly as :func:`scalelab.train.train` would draw it),
* data order (its own per-step batches, a function of its seed and the step),
* LR schedule and peak LR (per-member, per-parameter-class learning rates),
* AdamW state (the update below is :class:`torch.optim.AdamW`'s, written for stacked tensors
  with per-member learning rates),

and is stored as its own record, indistinguishable in form from a single run's. A member that
diverges is frozen (its LR set to zero) and recorded as diverged; the others go on.

Equivalence with separate runs is tested (same curves within float tolerance: batched matrix
products sum in a different order).

Pure compute: :func:`scalelab.runner.sweep` groups batchable specs and writes their records;
:func:`scalelab.bench.bench_batched` measures whether batching pays.
"""

from __future__ import annotations

import json
import math
import time

import torch
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from scalelab.data import as_tensor, batch_offsets, eval_offsets, get_batch, load_corpus
from scalelab.model import GPT
from scalelab.parametrization import rules
from scalelab.result import RunResult
from scalelab.schedules import lr_multiplier
from scalelab.train import TrainConfig, _autocast, downsample, num_params, resolve_device

# Fields that may differ between members of one group; everything else must be equal.
MEMBER_FIELDS = ("lr", "seed", "schedule", "warmup_steps", "final_frac", "decay_frac", "decay_shape",
                 "weight_decay", "wd_mode")
MAX_GROUP = 16


def group_key(cfg: TrainConfig) -> str | None:
    """Configs with the same key can train together; None if this config cannot be batched."""
    if cfg.optimizer != "adamw" or cfg.checkpoint_steps or cfg.init_from is not None or cfg.grad_clip:
        return None
    d = cfg.to_dict()
    for f in MEMBER_FIELDS:
        d.pop(f)

    return json.dumps(d, sort_keys=True)


def train_batched(cfgs: list[TrainConfig], *, device: str = "auto") -> list[RunResult]:
    """Train same-shape configs together; one :class:`~scalelab.result.RunResult` per config, as :func:`train`.

    Raises:
        ValueError: if the configs do not share a group key.
    """
    keys = {group_key(c) for c in cfgs}
    if len(keys) != 1 or None in keys:
        raise ValueError("train_batched needs AdamW configs that differ only in " + ", ".join(MEMBER_FIELDS))
    dev = resolve_device(device)
    K = len(cfgs)
    c0 = cfgs[0]
    mcfg = c0.model
    corpus = load_corpus(c0.corpus)
    train_tokens, val_tokens = as_tensor(corpus.train), as_tensor(corpus.val)
    models = []
    for c in cfgs:
        torch.manual_seed(c.seed)  # the same draw as train() makes
        models.append(GPT(mcfg).to(dev))
    params, buffers = stack_module_state(models)  # name -> (K, ...)
    base = GPT(mcfg).to("meta")
    for block in base.blocks:
        block.attn.use_sdpa = False
    classes = models[0].param_classes()
    r = rules(mcfg.parametrization, mcfg.width_mult, init_std=mcfg.init_std, emb_mult=mcfg.emb_mult,
              out_mult=mcfg.out_mult, readout_init=mcfg.readout_init, sp_init=mcfg.sp_init, lr_rule=mcfg.lr_rule)
    lr_mult = {n: r[classes[n]].adam_lr_mult for n in params}
    peak = torch.tensor([c.lr for c in cfgs], device=dev)
    wd = torch.tensor([c.weight_decay for c in cfgs], device=dev)
    indep = torch.tensor([c.wd_mode == "independent" for c in cfgs], device=dev)
    b1, b2 = c0.betas
    exp_avg = {n: torch.zeros_like(p) for n, p in params.items()}
    exp_avg_sq = {n: torch.zeros_like(p) for n, p in params.items()}

    def loss_fn(p, b, x, y):
        return functional_call(base, (p, b), (x, y))[1]

    step_fn = vmap(grad_and_value(loss_fn), in_dims=(0, 0, 0, 0))
    eval_fn = vmap(loss_fn, in_dims=(0, 0, None, None))
    ev_off = eval_offsets(len(val_tokens), mcfg.seq_len, c0.eval_tokens)
    diverge_at = 1.5 * math.log(mcfg.vocab_size)
    alive = torch.ones(K, dtype=torch.bool, device=dev)
    status = ["finished"] * K
    steps_done = [0] * K
    losses = [[] for _ in range(K)]
    evals = [[] for _ in range(K)]
    eval_steps: list[int] = []
    scheds = [c.schedule_config for c in cfgs]
    t_start = time.perf_counter()
    train_seconds = 0.0
    for step in range(c0.total_steps):
        t0 = time.perf_counter()
        xs, ys = zip(*(get_batch(train_tokens, batch_offsets(len(train_tokens), mcfg.seq_len, c.batch_size,
                                                             c.seed, step), mcfg.seq_len) for c in cfgs))
        x, y = torch.stack(xs).to(dev), torch.stack(ys).to(dev)  # (K, B, T)
        with _autocast(dev):
            grads, loss = step_fn(params, buffers, x, y)  # loss (K,)
        sched = torch.tensor([lr_multiplier(s, step) for s in scheds], device=dev)
        lr_k = peak * sched * alive  # (K,); frozen members stop moving
        t = step + 1
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        with torch.no_grad():
            for n, p in params.items():
                g = grads[n]
                shape = (K,) + (1,) * (p.ndim - 1)
                lr = (lr_k * lr_mult[n]).view(shape)
                if classes[n] != "vector":
                    # torch: p *= 1 - lr·λ; independent: p *= 1 - (η_t/η)·λ (Wortsman et al.)
                    decay = torch.where(indep, sched * alive * wd, lr_k * lr_mult[n] * wd).view(shape)
                    p.mul_(1 - decay)
                exp_avg[n].lerp_(g, 1 - b1)
                exp_avg_sq[n].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (exp_avg_sq[n].sqrt() / math.sqrt(bc2)).add_(c0.eps)
                p.sub_(lr / bc1 * exp_avg[n] / denom)
        lv = loss.detach().float().cpu().tolist()
        train_seconds += time.perf_counter() - t0
        for k in range(K):
            if not alive[k]:
                continue
            steps_done[k] += 1
            losses[k].append(lv[k])
            if not math.isfinite(lv[k]) or (step >= cfgs[k].warmup_steps and lv[k] > diverge_at):
                status[k] = "diverged"
                alive[k] = False
        if not bool(alive.any()):
            break
        if (c0.eval_every and t % c0.eval_every == 0) or t == c0.total_steps:
            eval_steps.append(t)
            vals = _evaluate(eval_fn, params, buffers, val_tokens, ev_off, mcfg.seq_len, dev, K)
            for k in range(K):
                evals[k].append(vals[k])
    wall = time.perf_counter() - t_start
    counts = num_params(models[0])
    out = []
    for k, c in enumerate(cfgs):
        n_ev = len(evals[k]) if status[k] == "finished" else 0
        ev = evals[k][:n_ev]
        final = ev[-1] if (status[k] == "finished" and ev) else None
        if final is not None and not math.isfinite(final):
            status[k], final = "diverged", None
        ts, tl = downsample(list(range(1, steps_done[k] + 1)), losses[k])
        tokens = steps_done[k] * c.tokens_per_step
        out.append(RunResult(**{
            "status": status[k], "steps": steps_done[k], "tokens": tokens, "start_step": 0,
            "flops": 6.0 * counts["total"] * tokens, "flops_convention": "6 * num_params(total) * tokens processed",
            "num_params": counts, "final_eval_loss": final, "final_train_loss": losses[k][-1] if losses[k] else None,
            "train_curve": {"step": ts, "loss": tl},
            "eval_curve": {"step": eval_steps[:n_ev], "tokens": [s * c.tokens_per_step for s in eval_steps[:n_ev]],
                           "loss": ev},
            "wall_s": wall / K, "tokens_per_s": tokens / train_seconds if train_seconds else 0.0,
            "device": str(dev), "parent_checkpoint_sha256": None, "checkpoints": {},
            "batched": {"k": K, "group_wall_s": wall},
        }))
    return out


@torch.no_grad()
def _evaluate(eval_fn, params, buffers, val, offsets, seq_len, dev, K, batch: int = 64) -> list[float]:
    total = torch.zeros(K)
    count = 0
    for i in range(0, len(offsets), batch):
        x, y = get_batch(val, offsets[i:i + batch], seq_len)
        with _autocast(dev):
            total += eval_fn(params, buffers, x.to(dev), y.to(dev)).float().cpu() * len(x)
        count += len(x)
    return (total / count).tolist()
