"""Live views of a registry's names, so that an entry added at run time is seen everywhere.

Each extension point keeps its entries in one dictionary, name → entry: the upscalers
(:data:`cxr_lib.models.upscale.UPSCALERS`), the prompt strategies
(:data:`cxr_lib.models.prompts.STRATEGIES`), the report backends
(:data:`cxr_lib.models.backends.BACKENDS`). Help texts, menus, checks and tables read the
dictionary. Where they need a selection of its names (the upscalers that need no model, the
conditions with ``hr`` added), :class:`Names` gives one that is read afresh at every use, like
``dict.keys()``: a module that imported it at start-up still sees an entry registered later.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence, overload


class Names(Sequence[str]):
    """The names of ``registry``'s entries that pass ``keep``, in registry order, followed by ``extra``.

    A read-only sequence of strings that compares equal to a tuple or list of the same names.
    """

    def __init__(self, registry: Mapping[str, Any], keep: Callable[[Any], bool] | None = None,
                 extra: Sequence[str] = ()) -> None:
        self._registry = registry
        self._keep = keep
        self._extra = tuple(extra)

    def _names(self) -> tuple[str, ...]:
        kept = (name for name, entry in self._registry.items() if self._keep is None or self._keep(entry))
        return (*kept, *self._extra)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Names, tuple, list)):
            return self._names() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # its contents change with the registry

    def __add__(self, other: Sequence[str]) -> tuple[str, ...]:
        return self._names() + tuple(other)

    def __repr__(self) -> str:
        return f"Names{self._names()!r}"
