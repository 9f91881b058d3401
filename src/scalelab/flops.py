"""Parameter counts and training FLOPs under the conventions of the papers the book reproduces.

Scaling laws are fits of loss against N (parameters), D (tokens) and C (FLOPs), and each paper
counts N and C its own way. The differences are a few percent at large scale and tens of percent
at the small scales the book trains, so every chapter says which convention it uses. All functions
here are pure functions of plain shapes (they never build a model):

* :func:`num_params_by_shape` — N for the book's GPT layout under three conventions: ``total``,
  ``non_embedding`` and ``kaplan`` (Kaplan et al. 2020, arXiv 2001.08361, Table 1 / §2.1).
* :func:`chinchilla_num_params` — N as tabulated for the Chinchilla models (Hoffmann et al. 2022,
  arXiv 2203.15556, Table A9).
* :func:`six_nd` — C ≈ 6·N·D (Kaplan et al. §2.1; Hoffmann et al. §3).
* :func:`chinchilla_flops_per_token`, :func:`chinchilla_flops` — the exact forward + backward
  count of Hoffmann et al. Appendix F, including attention and (optionally) the embedding and
  logit matmuls.
* :func:`deepseek_m`, :func:`deepseek_six_n1`, :func:`deepseek_six_n2` — the non-embedding
  FLOPs per token M and the two 6N approximations of DeepSeek-AI 2024 (DeepSeek LLM,
  arXiv 2401.02954, §3.1, Eq. 2 and Table 3).

Shapes use the book's names (notation page): ``n_layer``, ``d_model``, ``n_head``, ``d_head`` (the
key/value size per head, Chinchilla's ``kv_size``), ``d_ff`` (MLP hidden size, Chinchilla's
``ffw_size``), ``vocab_size``, ``seq_len``. The attention width is ``d_attn = n_head * d_head``,
which need not equal ``d_model`` (several Table A9 rows differ).

Used by chapter 3 (compute axis of the WSD/cosine comparison), chapter 4 (DeepSeek's M and its
6N₁/6N₂ alternatives) and chapter 5 (Chinchilla's N and C).
"""

from __future__ import annotations

import numbers

PARAM_CONVENTIONS = ("total", "non_embedding", "kaplan")


def _positive_ints(**shapes: object) -> dict[str, int]:
    """Validate named shapes as positive integers (numpy integers accepted) and return Python ints."""
    out = {}
    for name, value in shapes.items():
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        out[name] = int(value)  # Python ints: no int64 overflow in the products below
    return out


def num_params_by_shape(
    *,
    n_layer: int,
    d_model: int,
    n_head: int,
    d_head: int,
    d_ff: int,
    vocab_size: int,
    seq_len: int,
    convention: str = "total",
    tie_embeddings: bool = False,
    gated_mlp: bool = False,
) -> int:
    """Parameter count N of the book's GPT layout (:mod:`scalelab.model`) from its shapes.

    Counts weight matrices only. Norm gains and biases (vectors, O(n_layer·d_model)) are left out;
    the book's default model has neither, so for it ``total`` is exact.

    Conventions:

    * ``total``: every matrix — per layer the attention projections Q, K, V, O
      (``4·d_model·d_attn``) and the MLP (``2·d_model·d_ff``, or ``3·d_model·d_ff`` gated), plus
      the token embedding ``vocab_size·d_model``, learned positions ``seq_len·d_model`` and the
      readout ``vocab_size·d_model`` (absent when tied to the token embedding).
    * ``non_embedding``: ``total`` minus token embedding, positions and readout: the transformer
      blocks only.
    * ``kaplan``: Kaplan et al. 2020 (arXiv 2001.08361) Table 1,
      ``N = 2·d_model·n_layer·(2·d_attn + d_ff)``: non-embedding, biases and norms excluded, and
      written for a two-matrix MLP (a gated MLP's third matrix is not counted).

    Args:
        n_layer, d_model, n_head, d_head, d_ff, vocab_size, seq_len: model shapes (positive ints).
        convention: one of ``total``, ``non_embedding``, ``kaplan``.
        tie_embeddings: the readout reuses the token embedding.
        gated_mlp: the MLP has two input matrices (SwiGLU), i.e. three ``d_model × d_ff`` matrices.

    Returns:
        The parameter count.

    Raises:
        ValueError: for an unknown convention or a shape that is not a positive integer.
    """
    if convention not in PARAM_CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; valid: {', '.join(PARAM_CONVENTIONS)}")
    s = _positive_ints(
        n_layer=n_layer, d_model=d_model, n_head=n_head, d_head=d_head, d_ff=d_ff,
        vocab_size=vocab_size, seq_len=seq_len,
    )
    d, d_attn = s["d_model"], s["n_head"] * s["d_head"]
    if convention == "kaplan":
        return 2 * d * s["n_layer"] * (2 * d_attn + s["d_ff"])
    per_layer = 4 * d * d_attn + (3 if gated_mlp else 2) * d * s["d_ff"]
    blocks = s["n_layer"] * per_layer
    if convention == "non_embedding":
        return blocks
    embeddings = s["vocab_size"] * d + s["seq_len"] * d + (0 if tie_embeddings else s["vocab_size"] * d)
    return blocks + embeddings


def chinchilla_num_params(
    *, n_layer: int, d_model: int, n_head: int, d_head: int, d_ff: int, vocab_size: int
) -> int:
    """N as listed in Hoffmann et al. 2022 (arXiv 2203.15556) Table A9, from the model shapes.

    ``n_layer·(5·d_model·d_attn + 2·d_model·d_ff) + vocab_size·d_model``: one shared token
    embedding/readout matrix, the four attention projections and the two MLP matrices per layer,
    plus one more ``d_model × d_attn`` matrix per layer. That fifth matrix is consistent with the
    relative positional encodings (Dai et al. 2019, Transformer-XL, arXiv 1901.02860) that
    Chinchilla inherits from Gopher; the paper does not spell its count out, and this formula is
    our reading of the table: with ``vocab_size = 32000`` it reproduces all 50 rows within 1%
    (``tests/unit/test_flops.py``), where the plain four-matrix count is 5–8% short.

    Raises:
        ValueError: for a shape that is not a positive integer.
    """
    s = _positive_ints(
        n_layer=n_layer, d_model=d_model, n_head=n_head, d_head=d_head, d_ff=d_ff, vocab_size=vocab_size
    )
    d, d_attn = s["d_model"], s["n_head"] * s["d_head"]
    return s["n_layer"] * (5 * d * d_attn + 2 * d * s["d_ff"]) + s["vocab_size"] * d


def six_nd(num_params: float, num_tokens: float) -> float:
    """C ≈ 6·N·D training FLOPs (Kaplan et al. 2020 §2.1; Hoffmann et al. 2022 §3).

    2·N multiply-adds per token forward and twice that backward; attention over the context and
    the embedding lookup are ignored, so the exact count is a few percent higher (see
    :func:`chinchilla_flops_per_token`).
    """
    return 6.0 * float(num_params) * float(num_tokens)


def chinchilla_flops_per_token(
    *,
    n_layer: int,
    d_model: int,
    n_head: int,
    d_head: int,
    d_ff: int,
    vocab_size: int,
    seq_len: int,
    embeddings_and_logits: bool = True,
) -> float:
    """Training (forward + backward) FLOPs per token, Hoffmann et al. 2022 Appendix F.

    Per sequence of ``seq_len`` tokens, with ``d_attn = n_head·d_head``:

    * embeddings: ``2·seq_len·vocab_size·d_model`` (the paper counts the lookup as a matmul)
    * attention, per layer: K, Q, V projections ``2·3·seq_len·d_model·d_attn``; key @ query
      logits ``2·seq_len²·d_attn``; softmax ``3·n_head·seq_len²``; softmax @ value reductions
      ``2·seq_len²·d_attn``; output projection ``2·seq_len·d_attn·d_model``
    * dense block, per layer: ``2·seq_len·(d_model·d_ff + d_model·d_ff)``
    * final logits: ``2·seq_len·d_model·vocab_size``

    forward = embeddings + n_layer·(attention + dense) + logits; backward = 2·forward (the
    paper's assumption). Causal masking is not discounted, as in the paper.

    ``embeddings_and_logits=False`` drops the two vocabulary terms. The FLOPs/6ND ratios of
    Hoffmann et al. Table A4 (0.99–1.10) come out of that variant, not of the formula as printed,
    which is 1.0–1.7 times 6ND over Table A9 (``tests/unit/test_flops.py``).

    Returns:
        (forward + backward) / seq_len, in FLOPs per token.

    Raises:
        ValueError: for a shape that is not a positive integer.
    """
    s = _positive_ints(
        n_layer=n_layer, d_model=d_model, n_head=n_head, d_head=d_head, d_ff=d_ff,
        vocab_size=vocab_size, seq_len=seq_len,
    )
    t, d, v, h = s["seq_len"], s["d_model"], s["vocab_size"], s["n_head"]
    d_attn = h * s["d_head"]
    embeddings = 2 * t * v * d
    attention = (
        2 * 3 * t * d * d_attn  # K, Q, V projections
        + 2 * t * t * d_attn  # key @ query logits
        + 3 * h * t * t  # softmax
        + 2 * t * t * d_attn  # softmax @ value reductions
        + 2 * t * d_attn * d  # output projection
    )
    dense = 2 * t * (d * s["d_ff"] + d * s["d_ff"])
    logits = 2 * t * d * v
    forward = s["n_layer"] * (attention + dense) + (embeddings + logits if embeddings_and_logits else 0)
    return 3.0 * forward / t  # forward + backward (= 2 · forward)


def chinchilla_flops(
    *,
    num_tokens: float,
    n_layer: int,
    d_model: int,
    n_head: int,
    d_head: int,
    d_ff: int,
    vocab_size: int,
    seq_len: int,
    embeddings_and_logits: bool = True,
) -> float:
    """Training compute C of ``num_tokens`` tokens by Hoffmann et al. Appendix F:
    :func:`chinchilla_flops_per_token` × ``num_tokens``.

    Raises:
        ValueError: for a shape that is not a positive integer.
    """
    per_token = chinchilla_flops_per_token(
        n_layer=n_layer, d_model=d_model, n_head=n_head, d_head=d_head, d_ff=d_ff,
        vocab_size=vocab_size, seq_len=seq_len, embeddings_and_logits=embeddings_and_logits,
    )
    return per_token * float(num_tokens)


def deepseek_m(*, n_layer: int, d_model: int, seq_len: int) -> float:
    """DeepSeek LLM's M: non-embedding training FLOPs per token (arXiv 2401.02954 §3.1, Eq. 2).

    ``M = 72·n_layer·d_model² + 12·n_layer·d_model·seq_len``: 6 × the 12·d_model² weights of a
    block with a 4·d_model MLP, plus the attention computation over the context; the vocabulary
    matmul is excluded. Compute is then C = M·D, the paper's replacement for 6·N·D.

    Raises:
        ValueError: for a shape that is not a positive integer.
    """
    s = _positive_ints(n_layer=n_layer, d_model=d_model, seq_len=seq_len)
    n, d = s["n_layer"], s["d_model"]
    return float(72 * n * d * d + 12 * n * d * s["seq_len"])


def deepseek_six_n1(*, n_layer: int, d_model: int) -> float:
    """6N₁ = 72·n_layer·d_model² FLOPs per token: 6 × non-embedding parameters (DeepSeek LLM §3.1).

    Raises:
        ValueError: for a shape that is not a positive integer.
    """
    s = _positive_ints(n_layer=n_layer, d_model=d_model)
    return float(72 * s["n_layer"] * s["d_model"] ** 2)


def deepseek_six_n2(*, n_layer: int, d_model: int, vocab_size: int) -> float:
    """6N₂ = 72·n_layer·d_model² + 6·vocab_size·d_model FLOPs per token: 6 × all parameters
    including the vocabulary matrix (DeepSeek LLM §3.1).

    Raises:
        ValueError: for a shape that is not a positive integer.
    """
    s = _positive_ints(n_layer=n_layer, d_model=d_model, vocab_size=vocab_size)
    return float(72 * s["n_layer"] * s["d_model"] ** 2 + 6 * s["vocab_size"] * s["d_model"])
