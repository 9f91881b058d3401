"""scalelab.units: the bytes-per-BPE-token factor and its measurement."""

import pytest

from scalelab import units


def test_measurement_counts_tokens_of_the_heldout_text():
    # a repetitive text: a BPE trained on it merges its words, so each token stands for several bytes; a text of
    # unseen symbols stays near one token per byte (the byte alphabet). Tolerances: the merges are exact counts.
    train = b"def scale(x):\n    return x * factor\n" * 400
    rich = units.measure_bytes_per_token(train, b"def scale(x):\n    return x * factor\n" * 5, vocab_size=300)
    poor = units.measure_bytes_per_token(train, bytes(range(33, 127)) * 3, vocab_size=300)
    assert rich["bytes_per_token"] > 3.0
    assert poor["bytes_per_token"] < 1.5
    assert rich["heldout_bytes"] == 5 * len(b"def scale(x):\n    return x * factor\n")


def test_bad_inputs_are_refused_before_any_training():
    with pytest.raises(ValueError, match="non-empty"):
        units.measure_bytes_per_token(b"", b"x")
    with pytest.raises(ValueError, match="> 256"):
        units.measure_bytes_per_token(b"abc", b"abc", vocab_size=100)
    with pytest.raises(ValueError, match="> 0"):
        units.bytes_to_bpe_tokens(10, factor=0.0)


def test_recorded_factor_is_the_recorded_count():
    m = units.MEASURED_ON
    assert units.BYTES_PER_BPE_TOKEN == pytest.approx(m["heldout_bytes"] / m["heldout_tokens"], abs=5e-4)
    assert m["vocab_size"] == units.BPE_VOCAB_SIZE
    # 20 tokens per parameter in bytes and back (chapter 5's C5.2)
    assert units.bytes_to_bpe_tokens(units.bpe_tokens_to_bytes(20.0)) == pytest.approx(20.0)
    assert "bytes per token" in units.bytes_per_token_note()
