"""The environment a run or a notebook executed in (recorded with every run record)."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache

import numpy
import torch

from scalelab.paths import repo_root


@lru_cache(maxsize=1)
def git_sha() -> str | None:

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment() -> dict:
    """Python, torch, numpy versions, platform, device, CPU count and the git sha."""

    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.machine(),
        "device": device,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "git_sha": git_sha(),
    }
