"""Section 2: the published μP recipes (Cerebras-GPT, MiniCPM) beside this book's base model."""

from __future__ import annotations

import pandas as pd

from scalelab.experiments.mup_derivation.design import chapter_plan
from scalelab.published import CEREBRAS_MUP

# Published μP recipes (values as released; the book cites the papers). Cerebras-GPT's numbers are
# taken from scalelab.published (its one registry of published numbers); MiniCPM's μP constants (scale_emb,
# scale_depth, init_std, lr, dim_model_base) are from Hu et al. 2024 and its released configuration.
PUBLISHED_RECIPES = {
    "Cerebras-GPT": {
        "d_base": 256, "eta_base": 0.006, "sigma_base": 0.08, "m_emb": 10.0,
        "hidden init": "σ_base/√m", "hidden Adam LR": "η_base/m", "output proj init": "σ_base/√(2·m·n_layer)",
        "logit multiplier": "1/m", "attention": "1/d_head",
        "source": "Dey et al. 2023, arXiv 2304.03208, App. G (cite: dey2023cerebras)",
    },
    "MiniCPM": {
        "d_base": 256, "eta_base": 0.01, "sigma_base": 0.1, "m_emb": 12.0,
        "hidden init": "σ_base/√m", "hidden Adam LR": "η_base/m",
        "output proj init": "residual branch × scale_depth/√n_layer (scale_depth 1.4)",
        "logit multiplier": "1/m", "attention": "1/√d_head (unchanged)",
        "source": "Hu et al. 2024, arXiv 2404.06395, §4 and the released config (cite: hu2024minicpm)",
    },
}


def published_recipes():
    """Cerebras-GPT and MiniCPM's μP recipes beside this book's base model, as a DataFrame."""
    p = chapter_plan("cpu")
    recipes = {k: dict(v) for k, v in PUBLISHED_RECIPES.items()}
    recipes["Cerebras-GPT"].update(CEREBRAS_MUP.value)
    ours = {
        "d_base": p.base_d_model, "eta_base": "from the LR grid (section 4)", "sigma_base": round(p.init_std, 4),
        "m_emb": 1.0, "hidden init": "σ_base/√m", "hidden Adam LR": "η_base/m",
        "output proj init": "σ_base/√(2·m·n_layer)", "logit multiplier": "1/m",
        "attention": "√d_head,base / d_head", "source": "scalelab.parametrization (cpu scale)",
    }
    table = {"this book": ours, **recipes}
    return pd.DataFrame(table)

