"""Book-wide units: how many bytes one BPE token stands for, measured once on the cpu corpus.

The book's models read bytes (vocabulary 256, :mod:`scalelab.data`), while the papers it checks
count BPE tokens: Chinchilla's 20 tokens per parameter (Hoffmann et al., arXiv 2203.15556 §3),
DeepSeek's tokens per step (arXiv 2401.02954 §3.1). To state a byte count in the papers' unit the book
uses one conversion factor, :data:`BYTES_PER_BPE_TOKEN`: the mean number of bytes per token of a
byte-level BPE with a 32,000-token vocabulary (the size of Gopher's SentencePiece vocabulary, which
Chinchilla's tokenizer nearly shares, so C5.2's ratio was stated in tokens of about this size), trained
with Hugging Face ``tokenizers`` on the *training* split of the cpu corpus (``stdlib``) and measured on its
*held-out* split.

The factor was measured by :func:`measure_bytes_per_token` (``python -m scalelab.units`` prints it
again; it needs the ``tokenizers`` package of the ``dev`` extra) and recorded here as a constant with
the corpus fingerprint it was measured on (:data:`MEASURED_ON`), so that no chapter has to train a
tokenizer. The standard library differs between Python versions, and so may the factor in its third
digit; :func:`bytes_per_token_note` says which corpus it comes from.

Used by chapter 4 (tokens per parameter of its budgets) and chapter 5 (C5.2's 20 tokens per
parameter).
"""

from __future__ import annotations

import json
import math

from scalelab.data import load_corpus

BPE_VOCAB_SIZE = 32_000  # Gopher's SentencePiece vocabulary (Rae et al., arXiv 2112.11446 §3), ~Chinchilla's (§4.1)
# Measured by measure_bytes_per_token(load_corpus("stdlib")) with tokenizers 0.23.3 (see MEASURED_ON); rerun
# `python -m scalelab.units` to repeat the measurement.
BYTES_PER_BPE_TOKEN = 3.906  # 205,812 held-out bytes / 52,695 tokens = 3.9057
MEASURED_ON = {
    "corpus": "stdlib",
    "sha256": "a13c44b50f7d0cda2aeda6f187967928d633c383c2207bd1be7b246f75788ce9",
    "train_bytes": 11_912_829,
    "heldout_bytes": 205_812,
    "heldout_tokens": 52_695,
    "vocab_size": BPE_VOCAB_SIZE,
    "tokenizers": "0.23.3",
}


def measure_bytes_per_token(train: bytes, heldout: bytes, *, vocab_size: int = BPE_VOCAB_SIZE,
                            chunk: int = 1 << 16) -> dict:
    """Train a byte-level BPE on ``train`` and count the tokens it makes of ``heldout``.

    Args:
        train: the training text (bytes; decoded as UTF-8, undecodable bytes replaced).
        heldout: the text the factor is measured on (never seen by the tokenizer's training).
        vocab_size: the BPE vocabulary size (at least 256 + a few merges).
        chunk: the texts are fed to the trainer and the encoder in pieces of about this many bytes.

    Returns:
        ``{"bytes_per_token", "heldout_bytes", "heldout_tokens", "train_bytes", "vocab_size", "tokenizers"}``.

    Raises:
        ValueError: an empty text or a vocabulary too small for a byte-level BPE (≤ 256).
        ImportError: without the ``tokenizers`` package (``pip install tokenizers``; it is in the dev extra).
    """
    if not train or not heldout:
        raise ValueError("measure_bytes_per_token needs non-empty training and held-out texts")
    if not (isinstance(vocab_size, int) and vocab_size > 256):
        raise ValueError(f"vocab_size must be an integer > 256 (the byte alphabet plus merges), got {vocab_size!r}")
    import tokenizers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])

    def pieces(data: bytes):
        for i in range(0, len(data), chunk):
            yield data[i:i + chunk].decode("utf-8", errors="replace")

    tok.train_from_iterator(pieces(train), trainer=trainer, length=math.ceil(len(train) / chunk))
    n_tokens = sum(len(e.ids) for e in tok.encode_batch(list(pieces(heldout))))
    n_bytes = len(heldout)
    return {"bytes_per_token": n_bytes / n_tokens, "heldout_bytes": n_bytes, "heldout_tokens": int(n_tokens),
            "train_bytes": len(train), "vocab_size": vocab_size, "tokenizers": tokenizers.__version__}


def bytes_to_bpe_tokens(n_bytes, factor: float | None = None):
    """Bytes expressed as BPE tokens: ``n_bytes / factor`` (default :data:`BYTES_PER_BPE_TOKEN`)."""
    f = BYTES_PER_BPE_TOKEN if factor is None else factor
    if not f > 0:
        raise ValueError(f"the bytes-per-token factor must be > 0, got {f!r}")
    return n_bytes / f


def bpe_tokens_to_bytes(n_tokens, factor: float | None = None):
    """BPE tokens expressed as bytes: ``n_tokens · factor`` (default :data:`BYTES_PER_BPE_TOKEN`)."""
    f = BYTES_PER_BPE_TOKEN if factor is None else factor
    if not f > 0:
        raise ValueError(f"the bytes-per-token factor must be > 0, got {f!r}")
    return n_tokens * f


def bytes_per_token_note() -> str:
    """Where the factor comes from, in one sentence (for the pages)."""
    m = MEASURED_ON
    return (f"{BYTES_PER_BPE_TOKEN:.3f} bytes per token: a byte-level BPE with {m['vocab_size']:,} tokens trained "
            f"with Hugging Face tokenizers {m['tokenizers']} on the {m['train_bytes']:,}-byte training split of the "
            f"{m['corpus']!r} corpus (sha256 {m['sha256'][:12]}), measured on its {m['heldout_bytes']:,}-byte "
            f"held-out split ({m['heldout_tokens']:,} tokens)")


def main() -> None:
    """Measure the factor on the cpu corpus and print it with what it was measured on (JSON)."""


    c = load_corpus("stdlib")
    out = measure_bytes_per_token(bytes(c.train), bytes(c.val))
    print(json.dumps({**out, "corpus": c.fingerprint["name"], "sha256": c.fingerprint["sha256"]}, indent=1))


if __name__ == "__main__":
    main()
