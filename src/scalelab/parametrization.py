"""Parametrizations as one explicit table: SP and μP.

For every parameter class of the book's transformer this module states, as functions of
``width_mult = d_model / base_d_model``:

* the initialisation standard deviation,
* the learning-rate multiplier under Adam-type optimizers (AdamW, Lion) and under SGD,
* the forward multiplier applied to the layer's output.

μP follows Yang et al. 2022, "Tensor Programs V" (arXiv 2203.03466, Table 3 and Table 8, the
"MuReadout" form used by the ``mup`` package) and the Cerebras-GPT practitioner's recipe
(arXiv 2304.03208, App. G): hidden init σ/√m, hidden Adam LR η/m, readout forward multiplier 1/m,
a constant embedding multiplier, attention logits ∝ 1/d_head.

Both parametrizations are **calibrated at the base width**: at ``width_mult == 1`` μP is the SP
model exactly (same initial weights, same per-parameter learning rates, same forward pass). That is
why the attention scale under ``1/d_head`` carries the constant √(base d_head): the logits equal
SP's 1/√d_head at the base width and shrink as 1/d_head only as d_head grows.

Used by every chapter; printed as a table in chapter 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

PARAMETRIZATIONS = ("sp", "mup")
PARAM_CLASSES = ("embedding", "hidden", "readout", "vector")
READOUT_INITS = ("default", "zero", "sp")
SP_INITS = ("constant", "fan_in")  # SP's matrix init: σ at every width (GPT-2), or σ/√m (1/fan_in variance)
LR_RULES = ("auto", "sp", "mup")  # per-class Adam LRs: the parametrization's own, or SP's / μP's effective ones


@dataclass(frozen=True)
class Rule:
    """How one parameter class scales with width.

    Attributes:
        init_std: initialisation std (0 means zeros; vectors use their own constant init).
        adam_lr_mult: multiplier on the global peak LR for Adam-type optimizers.
        sgd_lr_mult: multiplier on the global peak LR for SGD.
        forward_mult: multiplier applied to the layer's output in the forward pass.
    """

    init_std: float
    adam_lr_mult: float
    sgd_lr_mult: float
    forward_mult: float


def validate_parametrization(name: str) -> str:
    """Return ``name`` if it is a known parametrization.

    Raises:
        ValueError: naming the valid parametrizations.
    """
    if name not in PARAMETRIZATIONS:
        raise ValueError(f"unknown parametrization {name!r}; valid: {', '.join(PARAMETRIZATIONS)}")
    return name


def rules(
    parametrization: str,
    width_mult: float,
    *,
    init_std: float = 0.02,
    emb_mult: float = 1.0,
    out_mult: float = 1.0,
    readout_init: str = "default",
    sp_init: str = "constant",
    lr_rule: str = "auto",
) -> dict[str, Rule]:
    """The per-class rules at one width.

    Args:
        parametrization: ``"sp"`` or ``"mup"``.
        width_mult: d_model / base_d_model (m).
        init_std: σ, the base-width init std of matrices (GPT-2 uses 0.02).
        emb_mult: constant multiplier on the embedding output (Cerebras' m_emb, MiniCPM's scale_emb).
        out_mult: constant multiplier on the readout logits at the base width.
        readout_init: ``"default"`` (σ, as the hidden layers at base width), ``"zero"``
            (zero-initialised readout, as in μP practice), or ``"sp"`` (std σ·√m so that the
            effective readout weight (out_mult/m)·W keeps SP's 1/fan_in variance; Lingle's
            "SP unembedding init" ablation). At m = 1 the three are "default" / zero / "default".
        sp_init: SP's matrix init. ``"constant"`` keeps σ at every width (GPT-2, nanoGPT); ``"fan_in"`` gives
            hidden and readout matrices std σ/√m, i.e. variance ∝ 1/d_model: the SP of Tensor Programs V
            (arXiv 2203.03466, §3) and of Lingle's v1 code (``mu_transformer/jax_impl/model.py`` at e39cd5d:
            ``d_model**-0.5``). Only for ``parametrization="sp"``.
        lr_rule: the per-class Adam LRs. ``"auto"``: the parametrization's own. ``"mup"``: μP's effective
            rule (hidden and readout updates ∝ 1/m, embedding and vectors constant); ``"sp"``: one global
            effective LR. With ``"sp"`` under μP the readout's Adam LR is ×m, undoing its 1/m forward
            multiplier, so that every effective weight moves as under SP. These are the two middle controls
            of Everett et al. 2024 (arXiv 2407.05872, §3): μP's LR rule with SP's init, and μP's init with SP's
            LR rule.

    Returns:
        A dict from parameter class to :class:`Rule`.

    Raises:
        ValueError: on an unknown parametrization or readout init, or non-positive scales.
    """
    validate_parametrization(parametrization)
    if readout_init not in READOUT_INITS:
        raise ValueError(f"unknown readout_init {readout_init!r}; valid: {', '.join(READOUT_INITS)}")
    if sp_init not in SP_INITS:
        raise ValueError(f"unknown sp_init {sp_init!r}; valid: {', '.join(SP_INITS)}")
    if lr_rule not in LR_RULES:
        raise ValueError(f"unknown lr_rule {lr_rule!r}; valid: {', '.join(LR_RULES)}")
    if sp_init != "constant" and parametrization != "sp":
        raise ValueError(f"sp_init={sp_init!r} applies to parametrization 'sp' only (μP's init is already fan-in); "
                         "valid for 'mup': 'constant'")
    if width_mult <= 0 or init_std < 0:
        raise ValueError(f"width_mult must be > 0 and init_std >= 0, got {width_mult}, {init_std}")
    m = float(width_mult)
    if parametrization == "sp":
        # One global LR; init std σ at every width ("constant": GPT-2 / nanoGPT) or σ/√m ("fan_in").
        std = init_std / math.sqrt(m) if sp_init == "fan_in" else init_std
        readout_std = {"default": std, "zero": 0.0, "sp": std}[readout_init]
        # μP's effective Adam rule without a readout multiplier: hidden and readout LRs ∝ 1/m.
        lr = 1.0 / m if lr_rule == "mup" else 1.0
        return {
            "embedding": Rule(init_std, 1.0, 1.0, emb_mult),
            "hidden": Rule(std, lr, 1.0, 1.0),
            "readout": Rule(readout_std, lr, 1.0, out_mult),
            "vector": Rule(0.0, 1.0, 1.0, 1.0),
        }
    # μP (Tensor Programs V, Table 8 with the 1/m readout multiplier).
    readout_std = {"default": init_std, "zero": 0.0, "sp": init_std * math.sqrt(m)}[readout_init]
    if lr_rule == "sp":  # μP's init and multipliers, SP's update sizes (Everett et al.'s "μP init only")
        return {
            "embedding": Rule(init_std, 1.0, 1.0, emb_mult),
            "hidden": Rule(init_std / math.sqrt(m), 1.0, 1.0, 1.0),
            "readout": Rule(readout_std, m, 1.0, out_mult / m),  # ×m undoes the 1/m multiplier's shrink
            "vector": Rule(0.0, 1.0, 1.0, 1.0),
        }
    return {
        # Input weights: fan-in (vocab) is finite, fan-out grows. Init and Adam LR constant;
        # SGD LR ∝ n_l / n_{l-1} ∝ m.
        "embedding": Rule(init_std, 1.0, m, emb_mult),
        # Hidden weights: init var ∝ 1/fan_in, Adam LR ∝ 1/fan_in, SGD LR ∝ fan_out/fan_in = 1.
        "hidden": Rule(init_std / math.sqrt(m), 1.0 / m, 1.0, 1.0),
        # Readout: constant init, forward multiplier 1/m; Adam LR constant, SGD LR ∝ m.
        "readout": Rule(readout_std, 1.0, m, out_mult / m),
        # Gains and biases: one infinite dimension, treated like the embedding.
        "vector": Rule(0.0, 1.0, m, 1.0),
    }


def attention_scale(
    kind: str, d_head: int, base_d_head: int
) -> float:
    """Softmax temperature for the attention logits q·k.

    ``"inv_sqrt_d"`` is SP's 1/√d_head. ``"inv_d"`` is μP's 1/d_head, calibrated so that it equals
    1/√d_head at the base head size: √(base_d_head)/d_head. ``"inv_d_uncalibrated"`` is exactly
    1/d_head with no base-width factor: Lingle's v1 baseline (``qk_scale = 1/128`` with ``d_head = 128``
    in ``mu_transformer/configs/base.py`` at e39cd5d), which differs from 1/√d_head by √d_head at every
    width when d_head is fixed.

    Raises:
        ValueError: on an unknown kind.
    """
    if kind == "inv_sqrt_d":
        return 1.0 / math.sqrt(d_head)
    if kind == "inv_d":
        return math.sqrt(base_d_head) / d_head
    if kind == "inv_d_uncalibrated":
        return 1.0 / d_head
    raise ValueError(f"unknown attn_scale {kind!r}; valid: inv_d, inv_sqrt_d, inv_d_uncalibrated")


def rules_table(
    parametrization: str | None = None, width_mults: tuple[float, ...] = (1.0, 4.0), **kwargs
):
    """The rules as a tidy pandas DataFrame, one row per (parametrization, width_mult, class).

    Chapter 1 prints this table; ``kwargs`` go to :func:`rules`.
    """

    rows = []
    for p in [parametrization] if parametrization else list(PARAMETRIZATIONS):
        for m in width_mults:
            for cls, r in rules(p, m, **kwargs).items():
                rows.append(
                    {
                        "parametrization": p,
                        "width_mult": m,
                        "class": cls,
                        "init_std": r.init_std,
                        "adam_lr_mult": r.adam_lr_mult,
                        "sgd_lr_mult": r.sgd_lr_mult,
                        "forward_mult": r.forward_mult,
                    }
                )
    return pd.DataFrame(rows)


def symbolic_table():
    """The rules as formulas in m = width_mult (for the book's rules table)."""

    rows = [
        ("embedding", "σ", "σ", "1", "1", "1", "m", "m_emb", "m_emb"),
        ("hidden", "σ", "σ/√m", "1", "1/m", "1", "1", "1", "1"),
        ("readout", "σ", "σ (zero-init optional)", "1", "1", "1", "m", "1", "1/m"),
        ("gains, biases", "1 / 0", "1 / 0", "1", "1", "1", "m", "1", "1"),
        ("attention logits", "1/√d_head", "√d_head,0 / d_head", "", "", "", "", "", ""),
    ]
    cols = [
        "class", "init SP", "init μP", "Adam LR SP", "Adam LR μP",
        "SGD LR SP", "SGD LR μP", "multiplier SP", "multiplier μP",
    ]
    return pd.DataFrame(rows, columns=cols)
