"""The gpu dry run: the memory estimator against a hand count and against the bytes autograd saves; every gpu plan
built on the meta device fits 90% of an 80 GB and a 141 GB device; GPU-hours; the corpus is read a few epochs at
most."""

import math

import pytest
import torch

from scalelab import dryrun
from scalelab.corpora import max_epochs
from scalelab.model import GPT, ModelConfig
from scalelab.train import TrainConfig

SMALL = ModelConfig(d_model=64, n_layer=2, d_head=16, seq_len=32, base_d_model=64)


def test_memory_estimate_matches_a_hand_count():
    est = dryrun.memory_estimate(TrainConfig(model=SMALL, batch_size=8), "cuda")
    # P: wte 256·64 + wpe 32·64 + 2 layers × (qkv 64·192 + proj 64·64 + fc 64·256 + proj 256·64) + readout 64·256
    p = 256 * 64 + 32 * 64 + 2 * (64 * 192 + 64 * 64 + 64 * 256 + 256 * 64) + 64 * 256
    assert p == 133_120 == dryrun.num_params(SMALL)
    btd = 8 * 32 * 64  # B·T·d
    # per layer: two fp32 norm inputs (8) + bf16 (2) × [attention input 1 + q,k,v 3 + output 1 + MLP input 1
    # + GELU's input and output 2·(256/64) = 8]; then the final norm's input (4) and the readout's input (2)
    activations = btd * (2 * (8 + 2 * (1 + 3 + 1 + 1 + 8)) + 4 + 2)
    logits = 8 * 32 * 256 * (2 + 4)  # bf16 logits + the fp32 log-softmax
    hand = 4 * p + 4 * p + 8 * p + 2 * p + activations + logits + 1.5 * 2**30
    assert est.activations == activations == 1_277_952
    assert est.total == hand


@pytest.mark.parametrize("activation", ["gelu", "relu", "squared_relu", "swiglu"])
@pytest.mark.parametrize("norm", ["rmsnorm", "layernorm"])
def test_activation_estimate_matches_what_autograd_saves(activation, norm):
    cfg = ModelConfig(d_model=64, n_layer=2, d_head=16, seq_len=32, base_d_model=64, activation=activation,
                      norm=norm)
    torch.manual_seed(0)
    model = GPT(cfg)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()  # views of one tensor count once
        return t

    idx = torch.randint(0, 256, (8, 32))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits, _ = model(idx, idx)
    measured = sum(saved.values()) + logits.numel() * logits.element_size()  # the caller holds the logits
    est = dryrun.memory_estimate(TrainConfig(model=cfg, batch_size=8), "cpu")
    # 2%: the estimate leaves out the norms' per-token statistics, attention's log-sum-exp and the targets (≈1%)
    assert measured == pytest.approx(est.activations + est.logits, rel=0.02)


def test_every_gpu_plan_fits_and_reads_the_corpus_a_few_epochs_at_most():
    torch.set_num_threads(1)
    rows = dryrun.dry_run("gpu")
    assert sum(r["runs"] for r in rows) > 0
    for r in rows:
        for device, fits in r["fits"].items():
            assert fits, f"{r['chapter']}: {r['peak_bytes'] / 1e9:.1f} GB over 90% of {device}"
        if r["runs"]:
            assert 0 < dryrun.gpu_hours(r["flops"]) < math.inf
    longest = max(r["max_run_tokens"] for r in rows)
    assert max_epochs(longest) <= 3.0


def test_gpu_hours_and_bad_input():
    # 1e18 FLOPs at 10% of 1e15 FLOP/s: 1e4 s
    assert dryrun.gpu_hours(1e18, 0.1, 1e15) == pytest.approx(1e4 / 3600)
    with pytest.raises(ValueError, match="mfu"):
        dryrun.gpu_hours(1.0, 0.0)
    with pytest.raises(ValueError, match="'cuda' or 'cpu'"):
        dryrun.memory_estimate(TrainConfig(model=SMALL), "tpu")


def test_bench_mfu_peaks_and_compile_stays_off_on_cpu():
    from scalelab import bench

    assert bench.bf16_peak("NVIDIA H100 80GB HBM3") == 989.4e12
    assert bench.bf16_peak("NVIDIA H100 PCIe") == 756e12
    assert bench.bf16_peak("NVIDIA H200") == 989.4e12 and bench.bf16_peak("NVIDIA A100-SXM4-80GB") == 312e12
    assert bench.bf16_peak("Some Future GPU") is None
    with pytest.raises(ValueError, match="CUDA option"):
        bench.step_loop_tokens_per_s(TrainConfig(model=SMALL), torch.device("cpu"), compile=True)
    with pytest.raises(SystemExit, match="CUDA option"):
        bench.main(["train", "--device", "cpu", "--compile", "--no-save"])
