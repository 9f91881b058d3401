"""scalelab.coordcheck: the factory is called once per width and seed, the table's rows, and that a μP-style
toy stays flat in width where an SP-style one grows."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from scalelab.coordcheck import COLUMNS, Site, get_coord_data

D_IN, D_OUT, BASE = 8, 4, 64
LR = 0.01


class Toy(nn.Module):
    """x → relu(W_in x) → W_out h: SP-style (readout std 1/√n) or μP-style (readout std 1/n)."""

    def __init__(self, width: int, mup: bool) -> None:
        super().__init__()
        self.inp = nn.Linear(D_IN, width, bias=False)
        self.out = nn.Linear(width, D_OUT, bias=False)
        nn.init.normal_(self.inp.weight, std=1 / math.sqrt(D_IN))
        nn.init.normal_(self.out.weight, std=1 / width if mup else 1 / math.sqrt(width))

    def forward(self, x):
        return self.out(torch.relu(self.inp(x)))


def _mup_adam(model: Toy) -> torch.optim.Optimizer:
    """μP's Adam: the input layer's LR constant, the readout's ∝ 1/width."""
    width = model.out.in_features
    return torch.optim.Adam([{"params": model.inp.parameters(), "lr": LR},
                             {"params": model.out.parameters(), "lr": LR * BASE / width}])


def _batch():
    gen = torch.Generator().manual_seed(123)
    return torch.randn(16, D_IN, generator=gen), torch.randint(0, D_OUT, (16,), generator=gen)


SITES = {"input": Site("inp", take="input"), "hidden": "inp", "output": Site("")}


def test_factory_once_per_width_and_seed_and_the_rows():
    calls = []

    def factory(width):
        calls.append((width, torch.initial_seed()))
        return Toy(width, mup=False)

    df = get_coord_data((16, 32), factory, [_batch()], sites=SITES, lr=LR, steps=3, seeds=(5, 7), change=True)
    assert calls == [(16, 5), (16, 7), (32, 5), (32, 7)]
    assert list(df.columns) == COLUMNS
    assert len(df) == 2 * 2 * (3 + 1) * len(SITES)
    abs_rows = df[df["measure"] == "abs"]
    assert sorted(abs_rows["step"].unique()) == [1, 2, 3] and (df[df["measure"] == "change"]["step"] == 3).all()
    assert list(df["site"].iloc[:3]) == list(SITES)
    assert np.isfinite(df["mean_abs"]).all() and (abs_rows["mean_abs"] > 0).all()
    # the input of the first layer is the data: never changed by training
    assert (df[(df["measure"] == "change") & (df["site"] == "input")]["mean_abs"] == 0).all()


def test_batches_by_seed_and_step_and_same_seed_same_numbers():
    seen = []

    def batches(seed, step):
        seen.append((seed, step))
        return _batch()

    a = get_coord_data((16,), lambda w: Toy(w, mup=True), batches, sites={"output": ""}, optimizer=_mup_adam,
                       steps=2, seeds=1)
    b = get_coord_data((16,), lambda w: Toy(w, mup=True), [_batch()], sites={"output": ""}, optimizer=_mup_adam,
                       steps=2, seeds=1)
    assert seen == [(0, 1), (0, 2)]
    assert a.equals(b)


def _change_exponent(df, site):
    m = df[(df["measure"] == "change") & (df["site"] == site)].groupby("width")["mean_abs"].mean()
    return float(np.polynomial.polynomial.Polynomial.fit(np.log(m.index.to_numpy(float)), np.log(m.to_numpy()), 1)
                 .convert().coef[1])


def test_mup_toy_flat_sp_toy_grows():
    widths, kw = (64, 256, 1024), {"sites": {"output": ""}, "steps": 3, "seeds": 2, "change": True}
    sp = get_coord_data(widths, lambda w: Toy(w, mup=False), [_batch()], lr=LR, **kw)
    mup = get_coord_data(widths, lambda w: Toy(w, mup=True), [_batch()], optimizer=_mup_adam, **kw)
    sp_exp, mup_exp = _change_exponent(sp, "output"), _change_exponent(mup, "output")
    assert abs(mup_exp) < 0.25, mup_exp  # μP: the output moves by Θ(1) at every width
    assert sp_exp > 0.5 and sp_exp - mup_exp > 0.5, sp_exp  # SP, one Adam LR: the readout update grows with width


def test_bad_arguments():
    with pytest.raises(ValueError, match="no sites"):
        get_coord_data((16,), lambda w: Toy(w, False), [_batch()], sites={}, lr=LR)
    with pytest.raises(ValueError, match="give lr"):
        get_coord_data((16,), lambda w: Toy(w, False), [_batch()], sites={"output": ""})
    with pytest.raises(ValueError, match="unknown take"):
        Site("inp", take="grad")
