"""The storage ports over the REST API: what the engine, the CLI and workers use when
ORKEST_API_URL is set (layer 5: may import store, core, errors, settings, _internal).

`orkest/__init__.py` registers the http and https schemes with orkest.store, so
`open_store()` gives a RemoteRunStore in remote mode; importing this package loads httpx.
"""

from __future__ import annotations

from orkest import settings
from orkest.client.store import RemoteRunStore
from orkest.client.unsent import Replayed, replay_unsent, unsent_files

__all__ = ["RemoteRunStore", "Replayed", "open_remote_store", "replay_unsent", "unsent_files"]


def open_remote_store(url: str) -> RemoteRunStore:
    """The store factory for http(s) URLs: the key comes from ORKEST_API_KEY."""
    return RemoteRunStore(url, api_key=settings.current().api_key)
