"""Tensor arithmetic of the merge methods (`pipeline.merge.methods`), following mergekit's definitions.

Work happens in float32 (float64 when an input is float64); callers cast the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

DOT_THRESHOLD = 0.9995  # mergekit's: above this |cos| SLERP falls back to linear interpolation
EPS = 1e-8
_RESCALE_EPS = 1e-7  # mergekit's guard against rescaling by a vanishing L1 norm
_CHUNK = 1 << 20


def work_dtype(*tensors: torch.Tensor) -> torch.dtype:
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def slerp(t: float, v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of two whole tensors; `t = 0` gives `v0`.

    Directions are normalised (norms below EPS count as 1); nearly colinear or
    antipodal pairs interpolate linearly; the coefficients apply to the raw tensors.
    Norms and the dot product accumulate in float64, chunk by chunk: a float32
    reduction over tens of millions of elements drifts by ~1e-3.
    """
    dtype = work_dtype(v0, v1)
    a = v0.reshape(-1).to(dtype)
    b = v1.reshape(-1).to(dtype)
    if a.numel() == 0:
        return a.reshape(v0.shape)
    aa, bb, ab = (torch.zeros((), dtype=torch.float64) for _ in range(3))
    for i in range(0, a.numel(), _CHUNK):
        x, y = a[i : i + _CHUNK].double(), b[i : i + _CHUNK].double()
        aa += torch.dot(x, x)
        bb += torch.dot(y, y)
        ab += torch.dot(x, y)
    norm_a, norm_b = aa.sqrt(), bb.sqrt()
    norm_a = torch.where(norm_a > EPS, norm_a, 1)
    norm_b = torch.where(norm_b > EPS, norm_b, 1)
    dot = (ab / (norm_a * norm_b)).clamp(-1, 1)
    if dot.abs() > DOT_THRESHOLD:
        coef_a, coef_b = 1 - t, t
    else:
        theta = torch.acos(dot)
        coef_a = float(torch.sin((1 - t) * theta) / torch.sin(theta))
        coef_b = float(torch.sin(t * theta) / torch.sin(theta))
    result = a * torch.tensor(coef_a, dtype=dtype)
    result.add_(b, alpha=torch.tensor(coef_b, dtype=dtype).item())
    return result.reshape(v0.shape)


def linear(
    tensors: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool, name: str
) -> torch.Tensor:
    """Weighted sum of whole tensors, divided by the sum of weights when `normalize`."""
    dtype = work_dtype(*tensors)
    result = torch.zeros(tensors[0].shape, dtype=dtype)
    for tensor, weight in zip(tensors, weights, strict=True):
        result.add_(tensor.to(dtype), alpha=weight)
    if normalize:
        total = sum(weights)
        if total == 0:
            raise ValueError(f"tensor {name!r}: linear merge weights sum to 0, cannot normalize")
        result.div_(torch.tensor(total, dtype=dtype))
    return result


def tensor_seed(seed: int, tensor_name: str, model_index: int) -> int:
    """A stable 63-bit seed per (run seed, tensor, model): independent of processing order."""
    digest = hashlib.blake2b(f"{seed}:{model_index}:{tensor_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def sparsify(
    delta: torch.Tensor, density: float, method: str, rescale: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Keep a `density` fraction of `delta`: the largest magnitudes ("magnitude", TIES)
    or a Bernoulli sample ("random", DARE); with `rescale`, restore the L1 norm."""
    if density >= 1:
        return delta
    if method == "magnitude":
        if density <= 0 or delta.numel() == 0:
            return torch.zeros_like(delta)
        k = max(1, int(density * delta.numel()))
        mask = torch.zeros(delta.numel(), dtype=delta.dtype)
        mask[torch.topk(delta.abs().reshape(-1), k, sorted=False).indices] = 1
        mask = mask.reshape(delta.shape)
    elif method == "random":
        mask = torch.empty_like(delta).bernoulli_(max(density, 0.0), generator=generator)
    else:
        raise ValueError(f"unknown sparsification method {method!r}")
    masked = delta * mask
    if not rescale:
        return masked
    before, after = delta.abs().sum(), masked.abs().sum()
    if before < _RESCALE_EPS or after < _RESCALE_EPS:
        return masked
    return masked.mul_(before / after)


def combine_deltas(
    base: torch.Tensor,
    deltas: torch.Tensor,
    weights: Sequence[float],
    sign_consensus: bool,
    normalize: bool,
    lambda_: float,
) -> torch.Tensor:
    """Task arithmetic over stacked deltas `[models, *shape]`, with TIES sign election when
    `sign_consensus`: an element counts only where its sign agrees with the sign of the
    weighted sum. With `normalize`, divide by the weights that took part."""
    w = torch.tensor(weights, dtype=deltas.dtype).reshape(-1, *([1] * base.dim()))
    deltas.mul_(w)
    if sign_consensus:
        majority = (deltas.sum(dim=0) >= 0).to(deltas.dtype) * 2 - 1
        mask = deltas.sign() == majority
        mixed = (deltas * mask).sum(dim=0)
        divisor = (w * mask).sum(dim=0)
        divisor[divisor == 0] = 1
    else:
        mixed = deltas.sum(dim=0)
        divisor = w.sum(dim=0)
        divisor[divisor.abs() < 1e-8] = 1
    if normalize:
        mixed /= divisor
    if lambda_ != 1:
        mixed *= lambda_
    return base + mixed
