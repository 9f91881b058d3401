import pytest

from scalelab.scales import DESCRIPTIONS, SCALES, validate_scale


def test_the_three_scales_cheapest_first():
    assert SCALES == ("smoke", "cpu", "gpu")
    assert set(DESCRIPTIONS) == set(SCALES)


@pytest.mark.parametrize("scale", SCALES)
def test_valid_scale_is_returned(scale):
    assert validate_scale(scale) == scale


@pytest.mark.parametrize("bad", ["tiny", "CPU", "", "gpu "])
def test_unknown_scale_names_the_valid_ones(bad):
    with pytest.raises(ValueError) as err:
        validate_scale(bad)
    for s in SCALES:
        assert s in str(err.value)
    assert repr(bad) in str(err.value)
