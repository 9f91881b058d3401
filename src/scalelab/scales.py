"""The book's one vocabulary of scales.

* ``smoke``: every code path, tiny models, about a minute per notebook on 2 CPU cores (CI).
* ``cpu``: the results the book renders; each chapter at most a few hours on 2 CPU cores, resumable.
* ``gpu``: the full study on one CUDA GPU, run as resumable shards through ``python -m scalelab.sweep``.

Used by every chapter module (``plan(scale)``), the run store paths and the book runner.
"""

from __future__ import annotations

SCALES = ("smoke", "cpu", "gpu")

DESCRIPTIONS = {
    "smoke": "every code path with tiny models; CI executes every notebook at this scale",
    "cpu": "the results the book renders, committed under results/cpu/; hours on 2 CPU cores, resumable",
    "gpu": "the full study on one CUDA GPU, committed under results/gpu/; sharded through scalelab.sweep",
}


def validate_scale(scale: str) -> str:
    """Return ``scale`` if it is one of :data:`SCALES`.

    Raises:
        ValueError: naming the valid scales.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    return scale
