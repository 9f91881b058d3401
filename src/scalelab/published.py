"""Published constants the chapters compare against, each with its source and how far it was checked.

Every entry is a :class:`Figure`: the value, where it was read, and ``verified``. ``verified=False``
marks a value taken from a secondary source (a summary, a transcription, memory of a table)
that has not been checked against the paper; a chapter may show it but a verdict must not hinge
on it without saying so. The list mirrors ``published_figures.json`` in the anchor data
(:func:`scalelab.anchors.published_figures`); ``tests/unit/test_published.py`` keeps them equal. A figure
checked here against its paper (or one the shared file lacks, such as Hunyuan-Large's ratio) carries a
:class:`Verification` entry in :data:`VERIFICATIONS`: paper, arXiv version, table or figure, and the value as
printed; :func:`is_verified` accepts either.

Papers: Hoffmann et al. arXiv 2203.15556 (Chinchilla); Besiroglu et al. arXiv 2404.10102 (Epoch's
replication); DeepSeek LLM arXiv 2401.02954; MiniCPM arXiv 2404.06395; Llama 3 arXiv 2407.21783;
Kaplan et al. arXiv 2001.08361; Porian et al. arXiv 2406.19146; Lingle arXiv 2404.05728;
Hägele et al. arXiv 2405.18392; Cerebras-GPT arXiv 2304.03208. Used by chapters 1–5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Figure:
    """A published number (or small dict of numbers) with provenance.

    Attributes:
        value: the number, or a dict of related numbers.
        source: paper and location, or the public file it was confirmed in.
        verified: True when confirmed against the paper or a public file; False when secondary.
        note: caveats (rounding, units).
    """

    value: Any
    source: str
    verified: bool
    note: str = ""

    @property
    def secondary(self) -> bool:
        """True for values not confirmed against the paper (see ``note``)."""
        return not self.verified


# ---- Chinchilla (Hoffmann et al. 2022) -------------------------------------------------------
CHINCHILLA_APPROACH3 = Figure(
    {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
    "Hoffmann et al. arXiv 2203.15556 eq. 10 / App. D.2", True,
    "rounded values of the paper body; Besiroglu et al. show the rounding biases predictions")
CHINCHILLA_APPROACH3_UNROUNDED = Figure(
    {"logA": 6.0073404, "logB": 6.0179186, "logE": 0.5267228, "alpha": 0.33917084, "beta": 0.2849083},
    "Hoffmann et al. TeX source, as quoted in epoch-research/analyzing-chinchilla data_analysis.ipynb", True)
CHINCHILLA_TABLE2 = Figure(
    {"approach1": {"a": 0.50, "a_ci80": (0.488, 0.502), "b": 0.50, "b_ci80": (0.501, 0.512)},
     "approach2": {"a": 0.49, "a_ci80": (0.462, 0.534), "b": 0.51, "b_ci80": (0.483, 0.529)},
     "approach3": {"a": 0.46, "a_ci80": (0.454, 0.455), "b": 0.54, "b_ci80": (0.542, 0.543)},
     "kaplan2020_as_quoted": {"a": 0.73, "b": 0.27}},
    "Hoffmann et al. Table 2 (N_opt ∝ C^a, D_opt ∝ C^b, 80% CIs)", False,
    "approach-3 CI and approach-2/Kaplan point values confirmed in public files; the approach-1/2 "
    "CI bounds are not re-verified (secondary)")
CHINCHILLA_FLOPS = Figure(5.76e23, "Hoffmann et al. §4 (Chinchilla's training compute)", True)

# ---- Epoch's replication (Besiroglu et al. 2024) ----------------------------------------------
EPOCH_MLE = Figure(
    {"A": 482.01, "B": 2085.43, "E": 1.8169, "alpha": 0.3478, "beta": 0.3658,
     "A_se": 124.52, "B_se": 1293.28, "E_se": 0.0257, "alpha_se": 0.0154, "beta_se": 0.0206},
    "Besiroglu et al. arXiv 2404.10102 eq. 3; epoch-research/analyzing-chinchilla @ 92258837", True,
    "Huber likelihood (δ=1e-3) with a fitted scale, 240 points")
EPOCH_BOOTSTRAP95 = Figure(
    {"A": (285.214, 743.626), "B": (1042.357, 5810.344), "E": (1.769, 1.871),
     "alpha": (0.317, 0.373), "beta": (0.331, 0.415), "n_bootstrap": 4000, "seed": 42},
    "epoch-research/analyzing-chinchilla data_analysis.ipynb outputs", True)
EPOCH_GRID_REPLICATE = Figure(
    {"A": 477.84, "B": 2143.86, "E": 1.8172, "alpha": 0.3473, "beta": 0.3672},
    "epoch-research/analyzing-chinchilla data_analysis.ipynb ('replicate exactly' cell)", True,
    "Hoffmann's procedure (Huber δ=1e-3, sum, 4,500 L-BFGS starts) on Epoch's 240 points")
EPOCH_A_EXPONENT = Figure({"a": 0.513, "se": 0.02}, "Besiroglu et al. arXiv 2404.10102 §3", True)
EPOCH_TOKENS_PER_PARAM = Figure(
    {"epoch_fit_median": 25.66, "implied_by_hoffmann_approach3_fit": 72.87, "rule_of_thumb": 20},
    "epoch-research/analyzing-chinchilla data_analysis.ipynb outputs", True,
    "tokens per parameter at Chinchilla's compute")

# ---- DeepSeek LLM (2024) ----------------------------------------------------------------------
DEEPSEEK_ETA_OPT = Figure({"coef": 0.3118, "exp": -0.1250}, "DeepSeek LLM arXiv 2401.02954 §3.1", True,
                          "η_opt = 0.3118·C^−0.1250, C in FLOPs (M·D)")
DEEPSEEK_B_OPT = Figure({"coef": 0.2920, "exp": 0.3271}, "DeepSeek LLM arXiv 2401.02954 §3.1", True,
                        "B_opt = 0.2920·C^0.3271 in tokens per step")
DEEPSEEK_M_OPT = Figure({"coef": 0.1715, "exp": 0.5243}, "DeepSeek LLM arXiv 2401.02954 §3.2", True,
                        "M = non-embedding FLOPs per token")
DEEPSEEK_D_OPT = Figure({"coef": 5.8316, "exp": 0.4757}, "DeepSeek LLM arXiv 2401.02954 §3.2", True)
DEEPSEEK_NEAR_OPTIMAL_BAND = Figure(0.0025, "DeepSeek LLM arXiv 2401.02954 §3.1 (within 0.25% of the minimum)", True)
DEEPSEEK_TABLE4 = Figure(
    {"OpenAI_OpenWebText2": (0.73, 0.27), "Chinchilla_MassiveText": (0.49, 0.51),
     "Ours_early_data": (0.45, 0.55), "Ours_current_data": (0.524, 0.476), "Ours_OpenWebText2": (0.578, 0.422)},
    "DeepSeek LLM arXiv 2401.02954 Table 4 (a, b)", True)

# ---- Others ----------------------------------------------------------------------------------
MINICPM_TOKENS_PER_PARAM = Figure(192, "MiniCPM arXiv 2404.06395 §4 (D_opt/N_opt)", True, "Chinchilla's is ~20")
MINICPM_SCALING_FIT = Figure({"alpha": 0.29, "beta": 0.23}, "MiniCPM arXiv 2404.06395 §4", True)
LLAMA3_TOKENS_OPT = Figure(
    {"coef": 0.29, "exp": 0.53}, "Llama 3 arXiv 2407.21783 §3.2.1 (N*(C) = A·C^α, tokens)", False,
    "paper values from memory (secondary); a parabola fit to points read off Fig. 2 gives 0.299·C^0.537")
LLAMA3_FROM_EXTRACTED_POINTS = Figure({"coef": 0.299, "exp": 0.537},
                                      "recomputed from eric-czech/llama3_isoflop_extraction @ 1bc1755b", True)
KAPLAN_EXPONENTS = Figure(
    {"alpha_N": 0.076, "alpha_D": 0.095, "alpha_C_min": 0.05, "N_opt_exp": 0.73, "B_exp": 0.24,
     "S_exp": 0.03, "D_exp": 0.27},
    "Kaplan et al. arXiv 2001.08361 Table 1 / §6, via public summaries", False,
    "exponents confirmed only through secondary summaries")
KAPLAN_CONSTANTS = Figure(
    {"N_c": 8.8e13, "D_c": 5.4e13, "C_c_min_PFdays": 3.1e8, "B_star_tokens": 2e8, "alpha_B": 0.21,
     "S_c": 2.1e3, "alpha_S": 0.76},
    "Kaplan et al. arXiv 2001.08361 Table 1", False, "unverified: check against the paper before relying on them")
KAPLAN_LR_RULE = Figure("eta(N) ≈ 0.003239 − 0.0001395·ln(N)", "Kaplan et al. arXiv 2001.08361 App. D", False,
                        "via public notes (secondary)")
PORIAN_A_PROGRESSION = Figure(
    {"refinedweb": {"kaplan_repro": 0.835, "count_last_layer": 0.706, "short_warmup": 0.602,
                    "cosine_decay": 0.571, "tuned_no_decay": 0.497},
     "owt2": {"kaplan_repro": 0.864, "count_last_layer": 0.699, "short_warmup": 0.603,
              "cosine_decay": 0.574, "tuned_no_decay": 0.518}},
    "recomputed from formll/resolving-scaling-law-discrepancies @ 0dc60d91 (Porian et al. arXiv 2406.19146 Fig. 1)",
    True)
LINGLE_SETUP = Figure(
    {"widths": (128, 512, 2048), "depth": 24, "d_head": 128, "lr_grid_log2": (-10, -8, -6, -4, -2),
     "opt_base_lr_log2": -6},
    "lucaslingle/mu_transformer scripts (Lingle arXiv 2404.05728)", True,
    "setup confirmed in code; which variants transfer is from secondary sources")
LINGLE_OUTCOMES = Figure(
    {"fails": ("trainable RMSNorm gains", "decoupled weight decay 0.1", "SP attention scale 1/sqrt(D)",
               "Lion (v1-era)", "full SP")},
    "Lingle arXiv 2404.05728 (v1–v6), via secondary summaries", False)
HAGELE_FINDINGS = Figure(
    {"cooldown_fraction_matching_cosine": 0.2, "cooldown_shape": "1-sqrt beats linear",
     "constant_lr_vs_cosine_peak": 0.5},
    "Hägele et al. arXiv 2405.18392, via secondary summaries", False)
HAGELE_CODE_DEFAULTS = Figure(
    {"wsd_fract_decay_default": 0.1, "cosine_final_lr_frac": 0.1, "warmup_steps": 300, "lr": 1e-3,
     "beta2": 0.95, "weight_decay": 0.1},
    "epfml/schedules-and-scaling @ 17e78d60 src/main.py, src/optim/utils.py, src/config/base.py", True)
CEREBRAS_MUP = Figure(
    {"d_base": 256, "eta_base": 6e-3, "sigma_base": 0.08, "m_emb": 10.0},
    "Cerebras-GPT arXiv 2304.03208; Cerebras modelzoo convert_config_to_mup.py", True)
HUNYUAN_TOKENS_PER_ACTIVE_PARAM = Figure(
    96, "Hunyuan-Large arXiv 2411.02265 (pre-training recipe: 5.6T tokens / 58.1B activated parameters)", False,
    "the ratio of the MoE scaling study's optimum (58.1B activated parameters, 5.6T tokens = 96.4 per activated "
    "parameter); read in a secondary summary, not yet against the paper (see VERIFICATIONS)")

FIGURES: dict[str, Figure] = {k: v for k, v in globals().items() if isinstance(v, Figure)}


# ---- verifications made here, beside the shared published_figures.json -------------------------
@dataclass(frozen=True)
class Verification:
    """A figure checked here against its paper (or, where the paper could not be read, marked so).

    Attributes:
        figure: the name of the :class:`Figure` in this module.
        paper: title and arXiv id.
        version: the arXiv version (and its date) whose text was read.
        location: the table, figure or section that prints the value.
        value: the value as printed there (it must equal the figure's value).
        checked_against: ``"paper"`` (its text was read) or ``"secondary"`` (only a summary was available).
        read_in: where that text was read.
    """

    figure: str
    paper: str
    version: str
    location: str
    value: Any
    checked_against: str
    read_in: str

    def __post_init__(self) -> None:
        if self.checked_against not in CHECKED_AGAINST:
            raise ValueError(f"checked_against must be one of {CHECKED_AGAINST}, got {self.checked_against!r}")
        for k in ("figure", "paper", "version", "location", "read_in"):
            if not getattr(self, k):
                raise ValueError(f"Verification.{k} must not be empty")


CHECKED_AGAINST = ("paper", "secondary")
VERIFICATIONS: dict[str, Verification] = {v.figure: v for v in (
    Verification("LLAMA3_TOKENS_OPT", "The Llama 3 Herd of Models, arXiv 2407.21783", "v1 (dated 23 July 2024)",
                 "§3.2.1, the fit of N*(C) = A·C^α, the optimal number of training tokens (fit drawn in Fig. 3)",
                 {"coef": 0.29, "exp": 0.53}, "paper",
                 "the paper's text, '(α, A) = (0.53, 0.29)', in two independent public transcriptions of the PDF"),
    Verification("CHINCHILLA_TABLE2", "Training Compute-Optimal Large Language Models, arXiv 2203.15556",
                 "v1 (29 March 2022)", "Table 2 (PDF p. 8); the intervals are 10th/90th bootstrap percentiles",
                 {"approach1": {"a": 0.50, "a_ci80": (0.488, 0.502), "b": 0.50, "b_ci80": (0.501, 0.512)},
                  "approach2": {"a": 0.49, "a_ci80": (0.462, 0.534), "b": 0.51, "b_ci80": (0.483, 0.529)},
                  "approach3": {"a": 0.46, "a_ci80": (0.454, 0.455), "b": 0.54, "b_ci80": (0.542, 0.543)},
                  "kaplan2020_as_quoted": {"a": 0.73, "b": 0.27}}, "paper",
                 "Table 2 as transcribed from the PDF in four independent public notes, all equal"),
    Verification("HUNYUAN_TOKENS_PER_ACTIVE_PARAM", "Hunyuan-Large, arXiv 2411.02265", "v1 (November 2024)",
                 "pre-training recipe: optimum of the MoE IsoFLOP study, 58.1B activated parameters on 5.6T tokens",
                 96, "secondary",
                 "a public summary of the paper (the paper's own text was not available here); 5.6e12/58.1e9 = 96.4"),
)}


def is_verified(name: str) -> bool:
    """Whether figure ``name`` is confirmed: in its own record, or by a :data:`VERIFICATIONS` entry against the
    paper whose value equals it."""
    fig = FIGURES[name]
    v = VERIFICATIONS.get(name)
    return fig.verified or (v is not None and v.checked_against == "paper" and v.value == fig.value)


def table(*, secondary_only: bool = False) -> pd.DataFrame:
    """All figures as a DataFrame (name, value, source, verified, note)."""
    rows = [{"name": k, "value": f.value, "source": f.source, "verified": is_verified(k), "note": f.note,
             "verified_here": _where(k)}
            for k, f in FIGURES.items() if not is_verified(k) or not secondary_only]
    return pd.DataFrame(rows).set_index("name")


def _where(name: str) -> str:
    v = VERIFICATIONS.get(name)
    return "" if v is None else f"{v.paper} {v.version}, {v.location} ({v.checked_against})"
