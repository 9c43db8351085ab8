"""Turning a name, a config dict or an instance into an object (activations, initialisers, optimisers)."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["build"]

T = TypeVar("T")


def build(spec: Any, base: type[T], registry: Mapping[str, Callable[..., T]], kind: str,
          valid: Iterable[str] | None = None) -> T:
    """An instance of ``base`` from an instance, a name, or ``{"name": ..., **arguments}``.

    An unknown name is a ValueError that lists the valid ones (``valid``, default the registry's).
    """
    if isinstance(spec, base):
        return spec
    if isinstance(spec, dict):
        arguments = dict(spec)
        return _class(registry, str(arguments.pop("name", "")).lower(), kind, valid)(**arguments)
    if isinstance(spec, str):
        return _class(registry, spec.lower(), kind, valid)()
    raise TypeError(f"{kind} must be a name, dict or {base.__name__}, got {type(spec).__name__}")


def _class(registry: Mapping[str, Callable[..., T]], name: str, kind: str,
           valid: Iterable[str] | None) -> Callable[..., T]:
    try:
        return registry[name]
    except KeyError:
        names = ", ".join(valid or registry)
        raise ValueError(f"unknown {kind} {name!r}; valid names: {names}") from None
