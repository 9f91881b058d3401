"""Section 3: the coordinate check on :class:`scalelab.model.GPT`, SP against μP, by :mod:`scalelab.coordcheck`."""

from __future__ import annotations

import pandas as pd
import torch

from scalelab.coordcheck import Site, get_coord_data
from scalelab.data import as_tensor, batch_offsets, get_batch, load_corpus
from scalelab.experiments.mup_derivation.design import COORD_LR, chapter_plan, model_config
from scalelab.model import GPT
from scalelab.optim import build_optimizer
from scalelab.train import resolve_device

COLUMNS = ["parametrization", "d_model", "seed", "measure", "step", "site", "mean_abs"]


def _causal_qk(model: GPT, qkv: torch.Tensor) -> torch.Tensor:
    """The last block's attention logits q·kᵀ·scale at the causal entries, from its fused q/k/v projection."""
    attn = model.blocks[-1].attn
    B, T, C3 = qkv.shape  # (B, T, 3·d_model)
    q, k, _ = qkv.split(C3 // 3, dim=2)
    q = q.view(B, T, attn.n_head, attn.d_head).transpose(1, 2)  # (B, H, T, d_head)
    k = k.view(B, T, attn.n_head, attn.d_head).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) * attn.scale  # (B, H, T, T)
    return att[..., torch.ones(T, T, dtype=torch.bool, device=att.device).tril()]  # causal entries


# The sites of claims.COORD_SITES, in its order: the embedding output (the first block's input), the last
# block's attention logits, its attention and MLP outputs (before the residual add), and the readout logits
# (the model's first output).
SITES = {
    "embedding": Site(lambda m: m.blocks[0], take="input"),
    "qk": Site(lambda m: m.blocks[-1].attn.qkv, transform=_causal_qk),
    "attention": Site(lambda m: m.blocks[-1].attn),
    "mlp": Site(lambda m: m.blocks[-1].mlp),
    "logits": Site(""),
}


def _gpt_loss(model: GPT, batch) -> torch.Tensor:
    return model(*batch)[1]


def coord_check(scale: str, seed: int = 0, device: str = "cpu", lr: float = COORD_LR):
    """Mean |activation| at five sites of the GPT over the first Adam steps, SP vs μP, and its change since init.

    Sites: the embedding output (input of the first block), the last block's attention logits
    q·kᵀ·scale (``qk``, causal entries), its attention and MLP outputs (before the residual add), and
    the readout logits. Step t is the forward pass before the t-th update (t = 1 is the init), with
    constant LR ``lr`` (times each class's μP multiplier) on real batches of the corpus; these rows
    have ``measure == "abs"`` (mean |x_t|). After the last step's update, the first batch (the probe)
    is passed again and ``measure == "change"`` rows hold mean |x_T − x_0| on it, where T is the
    number of updates (``step`` = T): the change since init, which the initialisation's own scale
    does not enter. One row per (parametrization, d_model, seed, measure, step, site); made by
    :func:`scalelab.coordcheck.get_coord_data`, once per parametrization.
    """
    p = chapter_plan(scale)
    dev = resolve_device(device)
    tokens = as_tensor(load_corpus("stdlib").train)

    def batches(s: int, step: int):
        return get_batch(tokens, batch_offsets(len(tokens), p.coord_seq_len, p.coord_batch, s, step - 1),
                         p.coord_seq_len)

    frames = []
    for param in ("sp", "mup"):
        df = get_coord_data(
            p.coord_widths, lambda d, param=param: GPT(model_config(scale, d, param, coord=True)), batches,
            sites=SITES, optimizer=lambda model: build_optimizer(model, optimizer="adamw", lr=lr, weight_decay=0.0),
            steps=p.coord_steps, seeds=range(seed, seed + p.coord_seeds), loss=_gpt_loss, change=True, device=dev)
        frames.append(df.rename(columns={"width": "d_model"}).assign(parametrization=param))
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def coord_ratios(coords):
    """Widest/narrowest mean |activation| at the last step (seed means), per (parametrization, site)."""
    last = coords[coords["step"] == coords["step"].max()]
    m = last.groupby(["parametrization", "site", "d_model"])["mean_abs"].mean().reset_index()
    rows = []
    for (param, site), g in m.groupby(["parametrization", "site"], sort=False):
        g = g.sort_values("d_model")
        rows.append({"parametrization": param, "site": site, "narrowest": int(g["d_model"].iloc[0]),
                     "widest": int(g["d_model"].iloc[-1]),
                     "ratio": float(g["mean_abs"].iloc[-1] / g["mean_abs"].iloc[0])})
    return pd.DataFrame(rows)
