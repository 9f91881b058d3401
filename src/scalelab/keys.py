"""Run keys that stay put: which parts of a config name a run, and which do not.

A run's key is the sha256 of (experiment, version, config, corpus fingerprint) — see
:mod:`scalelab.store`. This module decides what "config" means there, so that the ~2,000 committed
records keep their keys while the configs grow:

* **Key-schema v1 fields** (:data:`V1_TRAIN_FIELDS`, :data:`V1_MODEL_FIELDS`) — every field that
  existed when the key schema was frozen — always enter the key, with their value.
* **Any field added later** enters the key only when it differs from its default. A new dial
  therefore never moves an old key: a config that leaves it at its default hashes exactly as before
  the field existed.
* **Fields that do not change a run's result** (:data:`NOT_IN_KEY`) enter the key at their neutral
  value whatever the config says. ``checkpoint_steps`` is one: saving a checkpoint at step 400 does not
  change the run, so a new cooldown branch point must not retrain (and re-record) its trunk.
* ``init_from`` holds the parent's config key, so it is itself computed by these rules.

Records made before ``checkpoint_steps`` left the key were re-keyed once by
``scripts/migrate_keys_v2.py`` (committed with its output); :func:`canonical_config` is what both
that script and the store use.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from scalelab.model import ModelConfig
from scalelab.train import TrainConfig

# The fields of TrainConfig and ModelConfig when the key schema was frozen (before any field was added
# under the "default stays out" rule). Never edit these sets: doing so moves committed keys.
V1_TRAIN_FIELDS = frozenset({
    "model", "optimizer", "lr", "betas", "eps", "weight_decay", "wd_mode", "grad_clip", "schedule", "warmup_steps",
    "final_frac", "decay_frac", "decay_shape", "total_steps", "batch_size", "eval_every", "eval_tokens",
    "checkpoint_steps", "init_from", "init_step", "corpus", "seed",
})
V1_MODEL_FIELDS = frozenset({
    "d_model", "n_layer", "d_head", "n_head", "seq_len", "vocab_size", "mlp_ratio", "activation", "norm", "norm_gain",
    "bias", "attn_scale", "zero_query", "tie_embeddings", "readout_init", "parametrization", "base_d_model",
    "init_std", "emb_mult", "out_mult", "depth_init",
})
# Fields that do not change what a run computes, with the value they take in every key.
NOT_IN_KEY: dict[str, Any] = {"checkpoint_steps": []}


def _json_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:  # pragma: no cover - every config field has a default
        raise TypeError(f"config field {f.name} has no default")
    return list(value) if isinstance(value, tuple) else value


def _defaults(cls) -> dict[str, Any]:
    return {f.name: _json_default(f) for f in dataclasses.fields(cls)}


def _trim(d: dict, v1: frozenset, defaults: dict) -> dict:
    out = {}
    for name, value in d.items():
        if name in v1 or name not in defaults or value != defaults[name]:
            out[name] = value
    return out


def canonical_config(config: dict) -> dict:
    """The part of a run's config dict (``TrainConfig.to_dict()``) that names the run.

    Args:
        config: a config dict as stored in a record.

    Returns:
        A new dict: v1 fields as given, later fields only when not at their default, and the
        :data:`NOT_IN_KEY` fields at their neutral value.
    """
    d = _trim(config, V1_TRAIN_FIELDS, _defaults(TrainConfig))
    if isinstance(d.get("model"), dict):
        d["model"] = _trim(d["model"], V1_MODEL_FIELDS, _defaults(ModelConfig))
    for name, neutral in NOT_IN_KEY.items():
        if name in d:
            d[name] = neutral
    return d


def added_fields() -> dict[str, list[str]]:
    """Fields added after the key schema was frozen (they enter a key only when set), per config class."""
    return {
        "TrainConfig": sorted({f.name for f in dataclasses.fields(TrainConfig)} - V1_TRAIN_FIELDS),
        "ModelConfig": sorted({f.name for f in dataclasses.fields(ModelConfig)} - V1_MODEL_FIELDS),
    }
