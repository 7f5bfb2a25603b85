"""Device choice, bf16 autocast, channels_last batches, asynchronous host-to-device copies, torch.compile
and seeding."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch
from torch import nn

from dabench.errors import DabenchError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DabenchError("--device cuda was asked for but torch sees no CUDA device; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise DabenchError(f"unknown device '{name}'; valid devices: auto, cpu, cuda")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op on the CPU (bf16 on CPU is slower and less precise there)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_model_layout(batch: torch.Tensor, device: torch.device, amp: bool) -> torch.Tensor:
    """A float batch (B, C, H, W) in the memory format the model computes in: channels_last on CUDA with
    ``amp`` (the model is channels_last, and bf16 cuDNN convolutions run NHWC); unchanged elsewhere, so
    CPU results stay bit for bit what they were. One helper for every training loop."""
    if amp and device.type == "cuda":
        return batch.contiguous(memory_format=torch.channels_last)
    return batch


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """Copy a small CPU tensor (random draws, a shuffle order) to ``device`` without making the host
    wait: on CUDA it goes through pinned memory with ``non_blocking``, so the step keeps queueing GPU
    work; elsewhere it is a plain ``.to`` (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def compile_unavailable(device: torch.device) -> str | None:
    """Why torch.compile cannot run here, or None when it can."""
    if not hasattr(nn.Module, "compile"):
        return f"torch {torch.__version__} has no nn.Module.compile (it needs torch >= 2.2)"
    try:
        from torch import _dynamo
    except ImportError as exc:  # a stripped torch install
        return f"torch._dynamo does not load ({exc})"
    if not _dynamo.is_dynamo_supported():
        return f"torch {torch.__version__} does not support torch.compile on this Python"
    if device.type == "cpu":  # inductor's CPU code is C++ built at run time
        try:
            from torch._inductor.cpp_builder import get_cpp_compiler
            get_cpp_compiler()
        except (ImportError, RuntimeError):  # RuntimeError: inductor's InvalidCxxCompiler
            return "inductor finds no C++ compiler for CPU code (install g++ or set CXX)"
    if device.type == "cuda":
        from torch.utils._triton import has_triton
        if not has_triton():
            return "inductor's GPU code needs triton, which is not installed"
    return None


def require_compile(device: torch.device) -> None:
    """A DabenchError, before any work is done, where ``--set compile=true`` cannot be honoured."""
    reason = compile_unavailable(device)
    if reason is not None:
        raise DabenchError(f"config key 'compile' is true but torch.compile is unavailable here: {reason}; "
                           "run without --set compile=true")


def compile_model(model: nn.Module, device: torch.device) -> nn.Module:
    """``--set compile=true``: torch.compile the backbone in place (``nn.Module.compile``), the part
    that holds the time, reached by forward, embed and extract alike. Parameters, submodules and
    state_dict keys stay as they were, so methods and checkpoints see the same model. Compilation
    itself happens lazily, at the first call."""
    require_compile(device)
    getattr(model, "backbone", model).compile()
    return model


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator for the caller's own draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def determinism_report(device: torch.device, amp: bool) -> dict[str, object]:
    """What can make the same (config, seed) give another number: on the CPU nothing here changes
    between two runs; on a GPU, cuDNN autotuning, TF32 and non-deterministic kernels can."""
    cuda = device.type == "cuda"
    return {
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "bf16_autocast": bool(amp and cuda),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "cpu_threads": torch.get_num_threads(),
    }
