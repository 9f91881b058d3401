"""The book's decoder-only transformer, with a switchable parametrization.

A pre-norm GPT (Radford et al. 2019; nanoGPT's layout) small enough to read in one sitting:
learned absolute position embeddings, causal self-attention through
``torch.nn.functional.scaled_dot_product_attention``, an MLP, and a final norm before the readout.
Everything the ablations of chapter 2 vary is a field of :class:`ModelConfig`; everything that
depends on width goes through :mod:`scalelab.parametrization` (one table), so SP and μP differ in
one place only.

Each parameter carries the name of its class (``embedding``, ``hidden``, ``readout``, ``vector``)
in :meth:`GPT.param_classes`; the optimizer builds its groups from that map.

Used by every chapter.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from scalelab.parametrization import (
    LR_RULES,
    READOUT_INITS,
    SP_INITS,
    attention_scale,
    rules,
    validate_parametrization,
)

ACTIVATIONS = ("gelu", "relu", "squared_relu", "swiglu")
NORMS = ("rmsnorm", "layernorm")
ATTN_SCALES = ("inv_d", "inv_sqrt_d", "inv_d_uncalibrated")


@dataclass(frozen=True)
class ModelConfig:
    """Shape and architecture dials of :class:`GPT`.

    Head layout: give ``d_head`` (fixed head size, heads grow with width: Lingle's layout) or
    ``n_head`` (fixed head count, d_head grows with width, where 1/d_head and 1/√d_head differ by
    a width-dependent factor) — exactly one of the two.
    """

    d_model: int = 64
    n_layer: int = 2
    d_head: int | None = 16
    n_head: int | None = None
    seq_len: int = 128
    vocab_size: int = 256
    mlp_ratio: float = 4.0
    activation: str = "gelu"
    norm: str = "rmsnorm"
    norm_gain: bool = False
    bias: bool = False
    attn_scale: str = "inv_d"
    zero_query: bool = False
    tie_embeddings: bool = False
    readout_init: str = "default"
    parametrization: str = "mup"
    base_d_model: int = 64
    init_std: float = 0.02
    emb_mult: float = 1.0
    out_mult: float = 1.0
    depth_init: bool = True
    sp_init: str = "constant"  # SP's matrix init: "constant" σ or "fan_in" σ/√m (parametrization.rules)
    lr_rule: str = "auto"  # per-class Adam LRs: "auto" (the parametrization's), "sp" or "mup" (middle controls)

    def __post_init__(self) -> None:
        validate_parametrization(self.parametrization)
        for field, value, valid in (
            ("activation", self.activation, ACTIVATIONS),
            ("norm", self.norm, NORMS),
            ("attn_scale", self.attn_scale, ATTN_SCALES),
            ("readout_init", self.readout_init, READOUT_INITS),
            ("sp_init", self.sp_init, SP_INITS),
            ("lr_rule", self.lr_rule, LR_RULES),
        ):
            if value not in valid:
                raise ValueError(f"unknown {field} {value!r}; valid: {', '.join(valid)}")
        if self.sp_init != "constant" and self.parametrization != "sp":
            raise ValueError(f"sp_init={self.sp_init!r} applies to parametrization 'sp' only; valid for "
                             f"{self.parametrization!r}: 'constant'")
        for field in ("d_model", "n_layer", "seq_len", "vocab_size", "base_d_model"):
            if getattr(self, field) <= 0:
                raise ValueError(f"{field} must be positive, got {getattr(self, field)}")
        if (self.d_head is None) == (self.n_head is None):
            raise ValueError("give exactly one of d_head (fixed head size) or n_head (fixed head count)")
        fixed = self.d_head if self.d_head is not None else self.n_head
        if fixed <= 0:
            raise ValueError(f"d_head / n_head must be positive, got {fixed}")
        for d in (self.d_model, self.base_d_model):
            if d % fixed:
                raise ValueError(
                    f"d_model={d} is not divisible into heads of {'size' if self.d_head else 'count'} {fixed}"
                )
        if self.mlp_ratio <= 0 or self.init_std < 0:
            raise ValueError("mlp_ratio must be > 0 and init_std >= 0")

    @property
    def width_mult(self) -> float:
        """m = d_model / base_d_model: the width relative to the tuned base model."""
        return self.d_model / self.base_d_model

    @property
    def heads(self) -> tuple[int, int]:
        """(n_head, d_head) at this width."""
        if self.d_head is not None:
            return self.d_model // self.d_head, self.d_head
        return self.n_head, self.d_model // self.n_head

    @property
    def base_d_head(self) -> int:
        """Head size of the base-width model (calibrates μP's 1/d_head to SP at base)."""
        return self.d_head if self.d_head is not None else self.base_d_model // self.n_head

    @property
    def d_ff(self) -> int:
        """MLP hidden size; SwiGLU uses 2/3 of it so that the parameter count is unchanged."""
        hidden = self.mlp_ratio * self.d_model
        if self.activation == "swiglu":
            hidden = 2 * hidden / 3
        return max(1, int(round(hidden)))

    def to_dict(self) -> dict:
        return asdict(self)


class Norm(nn.Module):
    """RMSNorm or LayerNorm, with or without a trainable gain (and bias for LayerNorm)."""

    def __init__(self, d: int, kind: str, gain: bool, bias: bool) -> None:
        super().__init__()
        self.kind = kind
        self.weight = nn.Parameter(torch.ones(d)) if gain else None
        self.bias = nn.Parameter(torch.zeros(d)) if (bias and kind == "layernorm") else None
        self.d = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "layernorm":
            return F.layer_norm(x, (self.d,), self.weight, self.bias, eps=1e-5)
        return F.rms_norm(x, (self.d,), self.weight, eps=1e-6)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.d_head = cfg.heads
        d = cfg.d_model
        self.qkv = nn.Linear(d, 3 * d, bias=cfg.bias)
        self.proj = nn.Linear(d, d, bias=cfg.bias)
        self.scale = attention_scale(cfg.attn_scale, self.d_head, cfg.base_d_head)
        # The fused kernel has no vmap batching rule on CPU; batched training switches to the
        # explicit softmax(q·kᵀ·scale)·v, whose matrix products vmap turns into batched ones.
        self.use_sdpa = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, d_model)
        q = q.view(B, T, self.n_head, self.d_head).transpose(1, 2)  # (B, H, T, d_head)
        k = k.view(B, T, self.n_head, self.d_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.d_head).transpose(1, 2)
        if self.use_sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        else:
            att = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, T, T)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            y = att.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v  # (B, H, T, d_head)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.activation = cfg.activation
        n_in = 2 * cfg.d_ff if cfg.activation == "swiglu" else cfg.d_ff
        self.fc = nn.Linear(cfg.d_model, n_in, bias=cfg.bias)
        self.proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)  # (B, T, d_ff) or (B, T, 2 d_ff)
        if self.activation == "gelu":
            h = F.gelu(h)
        elif self.activation == "relu":
            h = F.relu(h)
        elif self.activation == "squared_relu":
            h = F.relu(h).square()
        else:  # swiglu (Shazeer 2020, arXiv 2002.05202)
            a, g = h.chunk(2, dim=-1)
            h = F.silu(g) * a
        return self.proj(h)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1 = Norm(cfg.d_model, cfg.norm, cfg.norm_gain, cfg.bias)
        self.attn = Attention(cfg)
        self.ln2 = Norm(cfg.d_model, cfg.norm, cfg.norm_gain, cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Pre-norm decoder-only transformer; see :class:`ModelConfig` for the dials."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = Norm(cfg.d_model, cfg.norm, cfg.norm_gain, cfg.bias)
        self.readout = None if cfg.tie_embeddings else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        r = rules(
            cfg.parametrization,
            cfg.width_mult,
            init_std=cfg.init_std,
            emb_mult=cfg.emb_mult,
            out_mult=cfg.out_mult,
            readout_init=cfg.readout_init,
            sp_init=cfg.sp_init,
            lr_rule=cfg.lr_rule,
        )
        self.emb_mult = r["embedding"].forward_mult
        self.out_mult = r["readout"].forward_mult
        self.reset_parameters()

    def param_classes(self) -> dict[str, str]:
        """Parameter name → parametrization class (``embedding``/``hidden``/``readout``/``vector``)."""
        out = {}
        for name, p in self.named_parameters():
            if name.startswith(("wte.", "wpe.")):
                out[name] = "embedding"
            elif name.startswith("readout."):
                out[name] = "readout"
            elif p.ndim >= 2:
                out[name] = "hidden"
            else:
                out[name] = "vector"
        return out

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise every parameter from the parametrization table.

        Residual output projections (attention and MLP ``proj``) get an extra 1/√(2·n_layer) when
        ``depth_init`` (GPT-2's scheme, and Cerebras' σ/√(2·m·n_layer) under μP).
        """
        cfg = self.cfg
        r = rules(
            cfg.parametrization,
            cfg.width_mult,
            init_std=cfg.init_std,
            emb_mult=cfg.emb_mult,
            out_mult=cfg.out_mult,
            readout_init=cfg.readout_init,
            sp_init=cfg.sp_init,
            lr_rule=cfg.lr_rule,
        )
        depth = 1.0 / math.sqrt(2 * cfg.n_layer) if cfg.depth_init else 1.0
        classes = self.param_classes()
        for name, p in self.named_parameters():
            cls = classes[name]
            if cls == "vector":
                # Norm gains start at 1, biases at 0.
                p.fill_(1.0 if (name.endswith("weight") and ".ln" in f".{name}") else 0.0)
                continue
            std = r[cls].init_std
            if cls == "hidden" and name.endswith("proj.weight"):
                std = std * depth
            if std == 0.0:
                p.zero_()
            else:
                p.normal_(0.0, std, generator=generator)
        if cfg.zero_query:
            d = cfg.d_model
            for block in self.blocks:
                block.attn.qkv.weight[:d].zero_()

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits (B, T, vocab) and, with ``targets``, the mean cross-entropy in nats per token."""
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = (self.wte(idx) + self.wpe(pos)) * self.emb_mult  # (B, T, d_model)
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        w = self.wte.weight if self.readout is None else self.readout.weight
        logits = F.linear(x, w) * self.out_mult  # (B, T, vocab)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss
