"""Which factory opens a store URL scheme that orkest.store itself does not know (http/https
for the API client): a registry light enough for `import orkest` to fill without loading
the store package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

StoreFactory = Callable[[str], Any]

_factories: dict[str, StoreFactory] = {}


def register(scheme: str, factory: StoreFactory) -> None:
    _factories[scheme.lower()] = factory


def factory_for(scheme: str) -> StoreFactory | None:
    return _factories.get(scheme.lower())
