"""scalelab.published agrees with published_figures.json and marks secondary values."""

import pytest

from scalelab import published


@pytest.fixture
def figures(anchors_env):
    from scalelab import anchors

    return anchors.published_figures()


def test_constants_match_json(figures):
    ch = figures["chinchilla_hoffmann2022"]["approach3_rounded"]
    assert published.CHINCHILLA_APPROACH3.value == {k: ch[k] for k in ("E", "A", "B", "alpha", "beta")}
    ep = figures["epoch_besiroglu2024"]
    for k in ("A", "B", "E", "alpha", "beta"):
        assert published.EPOCH_MLE.value[k] == ep["fit_mle_huber_sigma"][k]
        assert published.EPOCH_GRID_REPLICATE.value[k] == ep["grid_replicate_of_hoffmann_procedure"][k]
        assert list(published.EPOCH_BOOTSTRAP95.value[k]) == ep["bootstrap95"][k]
    ds = figures["deepseek_llm_2024"]
    assert published.DEEPSEEK_ETA_OPT.value == {"coef": ds["eta_opt"]["coef"], "exp": ds["eta_opt"]["exp"]}
    assert published.DEEPSEEK_B_OPT.value == {"coef": ds["B_opt_tokens"]["coef"], "exp": ds["B_opt_tokens"]["exp"]}
    assert published.DEEPSEEK_M_OPT.value == ds["M_opt"] and published.DEEPSEEK_D_OPT.value == ds["D_opt"]
    assert published.MINICPM_TOKENS_PER_PARAM.value == figures["minicpm_2024"]["scaling_fit"]["D_opt_over_N_opt"]
    assert published.PORIAN_A_PROGRESSION.value["refinedweb"] == figures["porian2024"]["a_progression_refinedweb"]
    ll = figures["llama3_2024"]["reproduced_from_extracted_points"]
    assert published.LLAMA3_FROM_EXTRACTED_POINTS.value == {"coef": ll["A"], "exp": ll["alpha"]}
    for k, v in figures["kaplan2020"]["unverified_constants"].items():
        assert published.KAPLAN_CONSTANTS.value[k] == pytest.approx(v)
    cb = figures["cerebras_mup"]["empirically_tuned"]
    assert published.CEREBRAS_MUP.value == pytest.approx(cb)


def test_secondary_values_are_flagged():
    flagged = set(published.table(secondary_only=True).index)
    # The JSON marks these as from memory, secondary summaries or not re-verified, and nothing here checked them.
    assert {"KAPLAN_CONSTANTS", "LINGLE_OUTCOMES", "HAGELE_FINDINGS", "HUNYUAN_TOKENS_PER_ACTIVE_PARAM"} <= flagged
    assert "EPOCH_MLE" not in flagged and "DEEPSEEK_ETA_OPT" not in flagged
    assert all(f.source for f in published.FIGURES.values())


def test_verification_entries_beside_the_shared_file(figures):
    """A figure is verified in the shared file, or by an entry here (paper, version, location, value) whose value
    is the figure's own; an entry made from a summary verifies nothing."""
    for name, v in published.VERIFICATIONS.items():
        assert name in published.FIGURES, name
        assert v.version.startswith("v") and "arXiv" in v.paper and v.location
        if v.checked_against == "paper":
            assert v.value == published.FIGURES[name].value, name
            assert published.is_verified(name)
        else:
            assert not published.is_verified(name) or published.FIGURES[name].verified
    # the shared file still marks these unverified: only the entries here make them so
    assert figures["llama3_2024"]["verified"] != True  # noqa: E712 (the file holds strings as well as booleans)
    assert published.is_verified("LLAMA3_TOKENS_OPT") and published.is_verified("CHINCHILLA_TABLE2")
    ll = figures["llama3_2024"]["tokens_opt"]
    assert "0.53" in ll and "0.29" in ll  # the shared file's text agrees with the verified value
    t2 = figures["chinchilla_hoffmann2022"]["table2_exponents_N_opt_propto_C^a_D_opt_propto_C^b"]
    for k in ("approach1", "approach2", "approach3"):
        assert published.CHINCHILLA_TABLE2.value[k]["a"] == t2[k]["a"]
        assert tuple(published.CHINCHILLA_TABLE2.value[k]["a_ci80"]) == tuple(t2[k]["a_ci80"])
    # Hunyuan is not in the shared file: it needs an entry here, and it is not verified against the paper
    assert not any("hunyuan" in k.lower() for k in figures)
    assert "HUNYUAN_TOKENS_PER_ACTIVE_PARAM" in published.VERIFICATIONS
    assert not published.is_verified("HUNYUAN_TOKENS_PER_ACTIVE_PARAM")


def test_a_mismatched_or_incomplete_entry_is_refused():
    import dataclasses

    ok = published.VERIFICATIONS["LLAMA3_TOKENS_OPT"]
    with pytest.raises(ValueError, match="checked_against"):
        dataclasses.replace(ok, checked_against="memory")
    with pytest.raises(ValueError, match="version"):
        dataclasses.replace(ok, version="")
    bad = dataclasses.replace(ok, value={"coef": 0.29, "exp": 0.54})
    assert bad.value != published.FIGURES["LLAMA3_TOKENS_OPT"].value  # such an entry would fail the test above
