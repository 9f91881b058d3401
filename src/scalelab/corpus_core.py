"""What every corpus shares: the token-stream container, the held-out rule and the cache location.

:mod:`scalelab.data` (the offline corpora and the registry :func:`scalelab.data.load_corpus`) and
:mod:`scalelab.corpora` (pinned Hugging Face corpora, the gpu scale's) both build on it, so neither imports
the other back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HELDOUT_MODULUS = 50  # ≈2% of files held out


@dataclass(frozen=True)
class Corpus:
    """Byte-level token streams and the fingerprint that identifies them.

    Attributes:
        name: the corpus name it was loaded by.
        train: 1-D uint8 array of training tokens.
        val: 1-D uint8 array of held-out tokens (no run trains on them).
        fingerprint: dict with ``name``, ``bytes``, ``files``, ``sha256``, ``val_bytes``.
    """

    name: str
    train: np.ndarray
    val: np.ndarray
    fingerprint: dict

    @property
    def vocab_size(self) -> int:
        """Byte-level tokens: 256 symbols; a token is one byte, so losses are nats per byte."""
        return 256


def cache_dir() -> Path:
    """The package's cache: ``$SCALELAB_CACHE`` or ``~/.cache/scalelab`` (corpus tokens under ``corpus/``)."""
    return Path(os.environ.get("SCALELAB_CACHE", Path.home() / ".cache" / "scalelab"))
