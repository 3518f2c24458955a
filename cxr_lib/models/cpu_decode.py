"""Batch-1 decoding on the CPU at memory speed: matrix–vector products through OpenBLAS.

Each decode step at batch 1 multiplies every weight matrix of the language model by one vector,
so its time is the weights' bytes over the memory's read bandwidth. PyTorch's float32 CPU
``linear`` goes to MKL, whose matrix–vector kernel can read weights far below the memory's speed
on AMD processors (22–27 GB/s against 45–69 GB/s for NumPy's OpenBLAS on the same matrix, on the
machine measured on the Performance page). :func:`install` reroutes one-row float32 ``nn.Linear`` calls to OpenBLAS (``W @ x`` on
NumPy views of the same memory: no weight is copied) and leaves every other call to PyTorch.

During such a one-token step PyTorch runs one intra-op thread: its OpenMP workers otherwise keep
spinning between the small ops of a step and take the cores OpenBLAS needs (measured: 26 GB/s
with two PyTorch threads, 41 GB/s with one). Prefill, batched decoding, the vision encoder and
anything on a GPU are untouched.

The sums run in another order than MKL's, so logits differ by float rounding (tested: within 1e-4 relative);
``CXR_CPU_GEMV=torch`` turns the route off.
"""

from __future__ import annotations

import functools
import os
import types
from typing import Any

from cxr_lib.errors import ParameterError

#: Environment variable: ``openblas`` (default) routes one-row CPU float32 linears to OpenBLAS; ``torch`` keeps PyTorch's.
ENV_SWITCH = "CXR_CPU_GEMV"
_MARK = "_cxr_openblas_decode"


def wanted() -> bool:
    """Whether the OpenBLAS route is switched on (``$CXR_CPU_GEMV``, default ``openblas``)."""
    value = os.environ.get(ENV_SWITCH, "openblas").strip().lower()
    if value not in {"openblas", "torch"}:
        raise ParameterError(f"{ENV_SWITCH}={value!r} is not a choice: use 'openblas' (default) or 'torch'")
    return value == "openblas"


def _openblas_linear(self: Any, x: Any) -> Any:
    """``nn.Linear.forward`` that sends a single float32 CPU row to OpenBLAS and all else to PyTorch."""
    import torch
    import torch.nn.functional as F

    weight = self.weight
    if (x.numel() == self.in_features and x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and weight.device.type == "cpu" and weight.is_contiguous()
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))):
        out = torch.from_numpy(weight.detach().numpy() @ x.detach().reshape(-1).numpy())
        if self.bias is not None:
            out += self.bias.detach()
        return out.view(*x.shape[:-1], self.out_features)
    return F.linear(x, weight, self.bias)


def _one_token_step(args: tuple, kwargs: dict) -> bool:
    """Whether a model call computes a single position of a single sequence (a batch-1 decode step)."""
    for name in ("input_ids", "inputs_embeds"):
        tensor = kwargs.get(name)
        if tensor is not None:
            return tensor.shape[0] == 1 and tensor.shape[1] == 1
    if args and hasattr(args[0], "shape") and len(args[0].shape) >= 2:
        return args[0].shape[0] == 1 and args[0].shape[1] == 1
    return False


def install(model: Any) -> int:
    """Route ``model``'s one-row float32 CPU linears to OpenBLAS; returns how many layers were routed.

    Idempotent; a model on a GPU, in another precision, or with ``$CXR_CPU_GEMV=torch`` gets 0.
    """
    import torch

    if installed(model):
        return getattr(model, _MARK)
    if not wanted():
        return 0
    routed = 0
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if (isinstance(module, torch.nn.Linear) and isinstance(weight, torch.Tensor)
                and weight.device.type == "cpu" and weight.dtype == torch.float32):
            module.forward = types.MethodType(_openblas_linear, module)
            routed += 1
    if routed:
        plain_forward = model.forward

        @functools.wraps(plain_forward)  # keeps the signature generate() inspects (logits_to_keep, …)
        def forward(*args: Any, **kwargs: Any) -> Any:
            if not _one_token_step(args, kwargs) or torch.get_num_threads() == 1:
                return plain_forward(*args, **kwargs)
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return plain_forward(*args, **kwargs)
            finally:
                torch.set_num_threads(before)

        model.forward = forward
        setattr(model, _MARK, routed)
    return routed


def installed(model: Any) -> bool:
    """Whether :func:`install` has routed this model's linears."""
    return bool(getattr(model, _MARK, 0))


def uninstall(model: Any) -> None:
    """Undo :func:`install`: every linear and the model's forward back to PyTorch's own."""
    if not installed(model):
        return
    for module in model.modules():
        if isinstance(module.__dict__.get("forward"), types.MethodType) and module.forward.__func__ is _openblas_linear:
            del module.forward
    del model.forward
    delattr(model, _MARK)
