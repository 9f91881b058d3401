"""Optimizers with parameter groups taken from the parametrization table.

* ``adamw``: :class:`torch.optim.AdamW`. Weight decay in two forms: ``wd_mode="torch"`` is
  PyTorch's decoupled decay, scaled by the group's (scheduled) LR: θ ← θ − η_t·λ·θ.
  ``wd_mode="independent"`` is LR-independent decay (Wortsman et al. 2023, arXiv 2309.14322,
  §3.2.2): θ ← θ − (η_t/η)·λ·θ, i.e. it follows the schedule's shape but not the LR's size or its
  per-group μP multiplier. It is realised with AdamW by setting each group's decay to λ/η_group.
* ``sgd``: :class:`torch.optim.SGD` with momentum; μP's SGD multipliers.
* ``lion``: Lion (Chen et al. 2023, arXiv 2302.06675) from the maintained ``lion-pytorch``
  package; Adam-type multipliers (sign updates, like Adam's, are Θ(1) per coordinate).

Decay applies to matrices (embedding, hidden, readout); gains and biases are not decayed.

Used by the trainer (:mod:`scalelab.train`).
"""

from __future__ import annotations

import torch
from lion_pytorch import Lion

from scalelab.parametrization import rules

OPTIMIZERS = ("adamw", "sgd", "lion")
WD_MODES = ("torch", "independent")


def param_groups(model, *, optimizer: str, lr: float, weight_decay: float, wd_mode: str) -> list[dict]:
    """One group per parametrization class, with ``lr_mult`` recorded for the scheduler.

    Each group's ``lr`` is ``lr · lr_mult`` (the schedule multiplies it every step).
    """
    cfg = model.cfg
    r = rules(cfg.parametrization, cfg.width_mult, init_std=cfg.init_std, emb_mult=cfg.emb_mult,
              out_mult=cfg.out_mult, readout_init=cfg.readout_init, sp_init=cfg.sp_init, lr_rule=cfg.lr_rule)
    classes = model.param_classes()
    by_class: dict[str, list] = {}
    for name, p in model.named_parameters():
        by_class.setdefault(classes[name], []).append(p)
    groups = []
    for cls, params in by_class.items():
        mult = r[cls].sgd_lr_mult if optimizer == "sgd" else r[cls].adam_lr_mult
        group_lr = lr * mult
        wd = 0.0 if cls == "vector" else weight_decay
        if wd and wd_mode == "independent":
            wd = wd / group_lr  # AdamW applies lr·wd; this makes the product λ (times the schedule)
        groups.append({"params": params, "lr": group_lr, "lr_mult": mult, "weight_decay": wd, "name": cls})
    return groups


def build_optimizer(model, *, optimizer: str = "adamw", lr: float = 1e-3, betas=(0.9, 0.95), eps: float = 1e-8,
                    weight_decay: float = 0.0, wd_mode: str = "torch", momentum: float = 0.9):
    """The optimizer for ``model`` with μP/SP parameter groups.

    Raises:
        ValueError: on an unknown optimizer or weight-decay mode.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if wd_mode not in WD_MODES:
        raise ValueError(f"unknown wd_mode {wd_mode!r}; valid: {', '.join(WD_MODES)}")
    groups = param_groups(model, optimizer=optimizer, lr=lr, weight_decay=weight_decay, wd_mode=wd_mode)
    if optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, fused=True)
    if optimizer == "sgd":
        # torch's SGD decay is coupled (added to the gradient); we keep decay off for SGD.
        for g in groups:
            g["weight_decay"] = 0.0
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)

    return Lion(groups, lr=lr, betas=tuple(betas))
