"""The merge methods: one object per method behind one interface, registered by name.

After mergekit's `merge_methods` registry: a method names itself, says which settings it reads
(beyond `method`, `dtype` and `max_shard_size`) with mergekit's defaults, checks what only it
requires, and merges one tensor. The settings parser and the merge stage look methods up in
`METHODS`; adding one is a `MergeMethod` subclass under `@register`. This module does not import
torch (settings are checked when the workflow starts); the tensor math is `pipeline.merge.arithmetic`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pipeline.merge.parameters import Setting, resolve

if TYPE_CHECKING:
    import torch

    from pipeline.merge.checkpoint import Checkpoint
    from pipeline.merge.settings import MergeSettings


class MergeMethod(ABC):
    """A merge method: its name, the settings it reads and their defaults, and its tensor operation."""

    name: ClassVar[str]
    description: ClassVar[str]  # a phrase for the model card
    keys: ClassVar[frozenset[str]]  # the settings it reads besides the common ones
    normalize: ClassVar[bool] = False  # mergekit's default of `normalize`
    rescale: ClassVar[bool] = False  # mergekit's default of `rescale`

    def check(self, parameters: dict[str, Setting], n_models: int) -> None:
        """Raise ValueError when the method cannot merge `n_models` models with these global parameters."""
        if n_models < 1:
            raise ValueError("merging needs at least one model besides the base")

    @abstractmethod
    def merge(
        self,
        name: str,
        position: float,
        base: torch.Tensor,
        others: Sequence[Checkpoint],
        settings: MergeSettings,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Tensor `name` (at layer `position`) of `base` merged with `others`' in float32 (float64 when
        the base is), and the per-tensor parameters as resolved for it."""


METHODS: dict[str, MergeMethod] = {}
M = TypeVar("M", bound=type[MergeMethod])


def register(cls: M) -> M:
    """Class decorator: add the method to `METHODS` under its name."""
    if cls.name in METHODS:
        raise ValueError(f"merge method {cls.name!r} is registered twice")
    METHODS[cls.name] = cls()
    return cls


def get_method(name: Any) -> MergeMethod:
    """The registered method called `name`; ValueError naming the known ones otherwise."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"settings 'method': expected one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name]


@register
class Slerp(MergeMethod):
    """Spherical interpolation between the base (t = 0) and one other model (t = 1)."""

    name = "slerp"
    description = (
        "spherical linear interpolation between the base (t = 0) and the other model (t = 1), "
        "tensor by tensor"
    )
    keys = frozenset({"t"})

    def check(self, parameters: dict[str, Setting], n_models: int) -> None:
        if n_models != 1:
            raise ValueError(f"slerp merges the base with exactly one other model, got {n_models}")
        if "t" not in parameters:
            raise ValueError("settings: slerp needs 't'")

    def merge(
        self,
        name: str,
        position: float,
        base: torch.Tensor,
        others: Sequence[Checkpoint],
        settings: MergeSettings,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        from pipeline.merge import arithmetic

        t = resolve("t", [settings.parameters], name, position, None)
        return arithmetic.slerp(t, base, others[0].load(name)), {"t": t}


@register
class Linear(MergeMethod):
    """A weighted average of the base and the models."""

    name = "linear"
    description = "a weighted average of the models' tensors"
    keys = frozenset({"weight", "normalize", "model_parameters", "base_parameters"})
    normalize = True

    def merge(
        self,
        name: str,
        position: float,
        base: torch.Tensor,
        others: Sequence[Checkpoint],
        settings: MergeSettings,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        from pipeline.merge import arithmetic

        weights = [resolve("weight", [settings.base_parameters, settings.parameters], name, position, None)]
        weights += [resolve("weight", s, name, position, None) for s in settings.model_scopes()]
        tensors = [base, *(o.load(name) for o in others)]
        return arithmetic.linear(tensors, weights, settings.normalize, name), {"weight": weights}


@register
class TaskArithmetic(MergeMethod):
    """The base plus the weighted sum of the models' differences from it; the subclasses sparsify
    the differences first and/or elect signs (mergekit's generalized task arithmetic)."""

    name = "task_arithmetic"
    description = "the base plus the weighted sum of each model's difference from the base"
    keys = frozenset({"weight", "normalize", "lambda", "model_parameters"})
    sparsify: ClassVar[str | None] = None  # "magnitude" (TIES) or "random" (DARE)
    sign_consensus: ClassVar[bool] = False

    def merge(
        self,
        name: str,
        position: float,
        base: torch.Tensor,
        others: Sequence[Checkpoint],
        settings: MergeSettings,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        import torch

        from pipeline.merge import arithmetic

        scopes = settings.model_scopes()
        weights = [resolve("weight", s, name, position, None) for s in scopes]
        densities = [resolve("density", s, name, position, 1.0) for s in scopes]
        dtype = arithmetic.work_dtype(base)
        base_work = base.to(dtype)
        deltas = torch.empty((len(others), *base.shape), dtype=dtype)
        for i, other in enumerate(others):
            delta = other.load(name).to(dtype) - base_work
            if self.sparsify:
                generator = torch.Generator().manual_seed(arithmetic.tensor_seed(settings.seed, name, i))
                delta = arithmetic.sparsify(delta, densities[i], self.sparsify, settings.rescale, generator)
            deltas[i] = delta
            del delta
        merged = arithmetic.combine_deltas(
            base_work, deltas, weights, self.sign_consensus, settings.normalize, settings.lambda_
        )
        params: dict[str, Any] = {"weight": weights}
        if self.sparsify:
            params["density"] = densities
        return merged, params


@register
class Ties(TaskArithmetic):
    """Task arithmetic over magnitude-pruned differences with TIES sign election."""

    name = "ties"
    description = (
        "task arithmetic over magnitude-pruned differences, keeping per element only the "
        "differences whose sign agrees with the elected sign (TIES)"
    )
    keys = TaskArithmetic.keys | {"density", "rescale"}
    normalize = True
    sparsify = "magnitude"
    sign_consensus = True


@register
class DareTies(TaskArithmetic):
    """Task arithmetic over randomly dropped, rescaled differences with TIES sign election."""

    name = "dare_ties"
    description = (
        "task arithmetic over randomly dropped and rescaled differences (DARE), with TIES sign election"
    )
    keys = TaskArithmetic.keys | {"density", "rescale", "seed"}
    rescale = True
    sparsify = "random"
    sign_consensus = True


@register
class DareLinear(TaskArithmetic):
    """Task arithmetic over randomly dropped, rescaled differences."""

    name = "dare_linear"
    description = "task arithmetic over randomly dropped and rescaled differences (DARE)"
    keys = TaskArithmetic.keys | {"density", "rescale", "seed"}
    rescale = True
    sparsify = "random"
