"""Reading TAM's importance maps V and adaptive kernels Θ out of a model, without changing its forward."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .tam import TAM

__all__ = ["TAMCapture", "TAMRecord"]


@dataclass
class TAMRecord:
    """What one TAM produced in one forward (detached, on CPU)."""

    importance_map: torch.Tensor | None  # V, (N, C, T)
    adaptive_kernel: torch.Tensor | None  # Θ, (N, C, K)


@dataclass
class TAMCapture:
    """Collects V and Θ of chosen TAMs over any number of forwards, without changing the forward.

    ``names``: module names (``backbone.layer3.5.tam``) or any unique suffix of them, such as the
    block name ``layer3.5`` (the TAM inside it); ``records`` and :meth:`stacked` use the names as given.

    >>> with TAMCapture(model, names=["layer3.5"]) as capture:   # None: every TAM in the model
    ...     model(clips)
    >>> capture.records["layer3.5"][0].adaptive_kernel.shape     # (N, C, K)
    """

    model: nn.Module
    names: list[str] | None = None
    records: dict[str, list[TAMRecord]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        available = {name: module for name, module in self.model.named_modules() if isinstance(module, TAM)}
        if self.names is None:
            self.names = list(available)
        resolved = {name: self._resolve(name, available) for name in self.names}
        self._modules = {name: available[full] for name, full in resolved.items()}
        self.full_names = resolved  # name as given -> module name

    @staticmethod
    def _resolve(name: str, available: dict[str, nn.Module]) -> str:
        """The TAM called ``name``, or the one TAM whose name ends with ``.name`` or ``.name.tam``."""
        if name in available:
            return name
        matches = [full for full in available
                   if full.endswith(f".{name}") or full.endswith(f".{name}.tam") or full == f"{name}.tam"]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise KeyError(f"TAM name {name!r} is ambiguous: {matches}")
        raise KeyError(f"no TAM named {name!r}; the model has: {list(available)} (a block name such as "
                       "'layer4.1' also works)")

    def __enter__(self) -> TAMCapture:
        for name, module in self._modules.items():
            self.records.setdefault(name, [])
            module._capture_sink = self._recorder(self.records[name])
        return self

    def __exit__(self, *exc_info) -> None:
        for module in self._modules.values():
            module._capture_sink = None

    @staticmethod
    def _recorder(sink: list[TAMRecord]):
        """What a TAM calls with (V, Θ) of each forward: a detached float32 copy on the CPU into ``sink``."""

        def record(importance_map: torch.Tensor | None, adaptive_kernel: torch.Tensor | None) -> None:
            sink.append(TAMRecord(
                None if importance_map is None else importance_map.detach().float().cpu(),
                None if adaptive_kernel is None else adaptive_kernel.detach().float().cpu(),
            ))

        return record

    def stacked(self, name: str) -> TAMRecord:
        """All captured forwards of one TAM concatenated over clips."""
        records = self.records[name]

        def cat(attr: str) -> torch.Tensor | None:
            values = [getattr(record, attr) for record in records]
            return None if any(value is None for value in values) else torch.cat(values)

        return TAMRecord(cat("importance_map"), cat("adaptive_kernel"))
