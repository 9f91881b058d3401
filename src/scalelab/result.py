"""One run's result, typed: what both trainers return and what a record's ``result`` holds.

Kept free of other scalelab imports so that the trainers, the store and the record tables can all use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

STATUSES = ("finished", "diverged")  # what a record holds
STOPPED = "stopped"  # a run the trainer was told to stop early (``stop_at``: a checkpoint recreated); never recorded


@dataclass(frozen=True)
class RunResult(Mapping):
    """The ``result`` of one run (see :func:`scalelab.train.train`).

    Attributes:
        status: ``finished`` or ``diverged`` (a non-finite loss, or 1.5·ln(vocab) after warmup).
        steps: optimizer steps actually taken by this run (a branch counts from its start step).
        tokens: tokens actually processed.
        start_step: the step a branch started from (0 for a run from scratch).
        flops: 6 · N_total · tokens.
        num_params: counts ``total``, ``embedding``, ``readout``, ``non_embedding``.
        final_eval_loss: held-out loss at the last step, nats per byte (None unless finished).
        final_train_loss: the last training loss.
        train_curve: ``{"step": [...], "loss": [...]}`` (at most 256 bin means).
        eval_curve: ``{"step": [...], "tokens": [...], "loss": [...]}``.
        wall_s: wall time of the training loop, seconds.
        tokens_per_s: throughput.
        device: where it ran.
        parent_checkpoint_sha256: sha256 of the checkpoint a branch started from.
        start_eval_loss: a branch's held-out loss on that checkpoint before its first step (None for a run from
            scratch and for branches recorded before this field existed).
        checkpoints: step → ``{"path", "sha256"}`` of the checkpoints it saved.
        batched: ``{"k", "group_wall_s"}`` when the run trained in a vmapped group of ``k``
            (:func:`scalelab.batched.train_batched`), else absent.

    Both trainers return one (:func:`scalelab.train.train`, :func:`scalelab.batched.train_batched`). It reads
    like the record's ``result`` mapping (``r["status"]``, ``r.get("device")``), and :meth:`to_dict` is what the
    store writes.
    """

    status: str
    steps: int
    tokens: int
    start_step: int
    flops: float
    num_params: dict
    final_eval_loss: float | None
    final_train_loss: float | None
    train_curve: dict
    eval_curve: dict
    wall_s: float
    tokens_per_s: float
    device: str
    flops_convention: str = "6 * num_params(total) * tokens processed"
    parent_checkpoint_sha256: str | None = None
    start_eval_loss: float | None = None
    checkpoints: dict = field(default_factory=dict)
    batched: dict | None = None

    def __post_init__(self) -> None:
        if self.status not in (*STATUSES, STOPPED):
            raise ValueError(f"unknown run status {self.status!r}; valid: {', '.join((*STATUSES, STOPPED))}")

    @classmethod
    def from_dict(cls, d: dict) -> RunResult:
        """From a record's ``result``; unknown keys are refused so that a schema change is noticed.

        Raises:
            ValueError: on a missing or unknown field.
        """
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown result fields {sorted(unknown)}; known: {sorted(names)}")
        try:
            return cls(**d)
        except TypeError as err:
            raise ValueError(f"result is missing fields: {err}") from None

    def to_dict(self) -> dict:
        """The record's ``result``: every field, ``batched`` only when the run trained in a group."""
        return {k: self[k] for k in self}

    def __getitem__(self, name: str):
        if name not in self._names():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self):
        return (n for n in self._names() if not (n == "batched" and self.batched is None))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name) -> bool:
        return name in self._names() and not (name == "batched" and self.batched is None)

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @property
    def loss(self) -> float:
        """The run's measurement: the final held-out loss, NaN unless finished with a finite loss."""
        if self.status != "finished" or self.final_eval_loss is None or not math.isfinite(self.final_eval_loss):
            return math.nan
        return float(self.final_eval_loss)
