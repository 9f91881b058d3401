"""Coordinate checks: mean |activation| at chosen sites of a model over its first training steps, per width.

A coordinate check trains a model of each width for a few steps and records, at every step, the mean
absolute value of chosen activations ("sites"). Under a parametrization that scales correctly with width
(μP), these curves lie on top of each other across widths; under one that does not, they fan out. The
shape of :func:`get_coord_data` follows microsoft/mup's ``mup.coord_check.get_coord_data`` (widths →
lazily built models, an optimizer, data, a number of steps and seeds, forward hooks on the modules to
record), with three differences:

* sites are named and can read a module's input as well as its output, or a tensor derived from it
  (e.g. attention logits from a fused q/k/v projection), so one row names a quantity, not a module;
* the data may depend on the seed and step (a callable), not only be one fixed batch;
* with ``change=True`` the first batch (the probe) is passed again after the last update and the change
  since init, mean |x_T − x_0|, is recorded as well: a quantity the initialisation's own scale does not
  enter.

The result is one tidy DataFrame with columns ``width, seed, measure, step, site, mean_abs``.

Used by chapter 1 (``scalelab.experiments.mup_derivation``), whose coordinate check is one call to
:func:`get_coord_data` per parametrization.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

MEASURES = ("abs", "change")
TAKES = ("output", "input")
COLUMNS = ["width", "seed", "measure", "step", "site", "mean_abs"]


@dataclass(frozen=True)
class Site:
    """One recorded quantity.

    Attributes:
        module: the submodule whose forward pass is read: a dotted name as in ``model.get_submodule``
            (``""`` is the model itself), or a function of the model that returns the submodule
            (e.g. ``lambda m: m.blocks[-1].mlp``).
        take: ``"output"`` (a forward hook) or ``"input"`` (a forward pre-hook on its first positional
            argument). A tuple or list output is read at its first element (e.g. the logits of a model that
            returns ``(logits, loss)``).
        transform: optional ``(model, tensor) -> tensor`` applied to the (detached) tensor before it is
            recorded, e.g. to turn a fused q/k/v projection into attention logits.
    """

    module: str | Callable[[nn.Module], nn.Module] = ""
    take: str = "output"
    transform: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        if self.take not in TAKES:
            raise ValueError(f"unknown take {self.take!r}; valid: {', '.join(TAKES)}")

    def resolve(self, model: nn.Module) -> nn.Module:
        """The submodule of ``model`` this site reads."""
        return self.module(model) if callable(self.module) else model.get_submodule(self.module)


def _first(x):
    return x[0] if isinstance(x, (tuple, list)) else x


def default_loss(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of ``model(inputs)`` against integer ``targets`` for a batch ``(inputs, targets)``.

    The output is read at its first element when it is a tuple (logits first), and flattened to
    (N, classes) with the targets to (N,).
    """
    x, y = batch
    out = _first(model(x))
    return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def _seeds(seeds: int | Iterable[int]) -> list[int]:
    return list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]


def _batch_fn(batches) -> Callable[[int, int], Sequence[torch.Tensor]]:
    if callable(batches):
        return batches
    fixed = list(batches)
    if not fixed:
        raise ValueError("batches is empty: give at least one batch, or a function (seed, step) -> batch")
    return lambda _seed, step: fixed[(step - 1) % len(fixed)]


def get_coord_data(
    widths: Iterable[int],
    model_factory: Callable[[int], nn.Module],
    batches,
    *,
    sites: Mapping[str, Site | str],
    lr: float | None = None,
    optimizer: Callable[[nn.Module], torch.optim.Optimizer] | None = None,
    steps: int = 3,
    seeds: int | Iterable[int] = 1,
    loss: Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor] = default_loss,
    change: bool = False,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Train each width for ``steps`` steps and record mean |activation| at every site, per seed.

    For each width and each seed, ``torch.manual_seed(seed)`` is set, then ``model_factory(width)`` builds
    the model (once per width and seed; the seed fixes its initial weights) and ``optimizer(model)`` its
    optimizer. Step t (t = 1 … ``steps``) passes ``batches(seed, t)`` forward, records every site, and makes
    one update. The recorded forward pass is the one before the t-th update, so step 1 is the init.

    Args:
        widths: the widths, in the order of the rows.
        model_factory: width → a fresh ``torch.nn.Module`` (moved to ``device`` here).
        batches: a function ``(seed, step) -> batch`` (step counts from 1), or a sequence of batches reused
            in turn by every width and seed (one batch: mup's ``fix_data``). A batch is a tuple of tensors,
            moved to ``device``.
        sites: name → :class:`Site` (a plain string is a module name whose output is read). Rows follow
            this order.
        lr: the learning rate of the default optimizer, ``torch.optim.Adam(model.parameters(), lr)``, used
            when ``optimizer`` is None.
        optimizer: model → optimizer (e.g. one with per-class μP learning rates); overrides ``lr``.
        steps: number of updates.
        seeds: a number of seeds (0 … seeds−1) or the seeds themselves.
        loss: ``(model, batch) -> scalar loss`` (default :func:`default_loss`); the probe pass of
            ``change`` calls it too, without gradients.
        change: also record, after the last update, mean |x_T − x_0| on the first batch of the seed
            (``measure == "change"``, ``step == steps``).
        device: where the models and batches live.

    Returns:
        A DataFrame with columns ``width, seed, measure, step, site, mean_abs``, one row per (width, seed,
        measure, step, site): ``measure == "abs"`` rows hold mean |x_t|, ``"change"`` rows mean |x_T − x_0|.

    Raises:
        ValueError: on no sites, fewer than one step, or neither ``lr`` nor ``optimizer``.
    """
    if not sites:
        raise ValueError("no sites to record")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if optimizer is None and lr is None:
        raise ValueError("give lr (for torch.optim.Adam) or an optimizer factory")
    make_opt = optimizer or (lambda model: torch.optim.Adam(model.parameters(), lr=lr))
    specs = {name: Site(s) if isinstance(s, str) else s for name, s in sites.items()}
    batch_at = _batch_fn(batches)
    rows: list[dict] = []
    seen: dict[str, torch.Tensor] = {}  # site → its tensor in the latest forward pass

    def record(name: str, site: Site, model: nn.Module):
        def keep(x):
            x = _first(x).detach()
            seen[name] = site.transform(model, x) if site.transform is not None else x

        if site.take == "input":
            return lambda _module, args: keep(args[0])
        return lambda _module, _args, output: keep(output)

    for width in widths:
        for seed in _seeds(seeds):
            torch.manual_seed(seed)
            model = model_factory(width).to(device)
            opt = make_opt(model)
            seen.clear()
            handles = []
            for name, site in specs.items():
                mod, hook = site.resolve(model), record(name, site, model)
                handles.append(mod.register_forward_pre_hook(hook) if site.take == "input"
                               else mod.register_forward_hook(hook))
            try:
                probe, x0 = None, {}
                for step in range(1, steps + 1):
                    batch = tuple(t.to(device) for t in batch_at(seed, step))
                    value = loss(model, batch)
                    if step == 1:
                        probe, x0 = batch, {k: v.clone() for k, v in seen.items()}
                    for name in specs:
                        rows.append({"width": width, "seed": seed, "measure": "abs", "step": step, "site": name,
                                     "mean_abs": float(seen[name].abs().mean())})
                    opt.zero_grad(set_to_none=True)
                    value.backward()
                    opt.step()
                if change:
                    with torch.no_grad():
                        loss(model, probe)
                    for name in specs:
                        rows.append({"width": width, "seed": seed, "measure": "change", "step": steps, "site": name,
                                     "mean_abs": float((seen[name] - x0[name]).abs().mean())})
            finally:
                for h in handles:
                    h.remove()
    return pd.DataFrame(rows, columns=COLUMNS)
