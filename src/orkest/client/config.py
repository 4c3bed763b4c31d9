"""The ConfigStore port over the REST API: a mixin of RemoteRunStore.

Variables, secrets, blocks and automations of an orkest API server (docs/api.md,
"Variables, secrets and blocks"), so that `Variable.get`, `Secret(name).get()` and
`Cls.load(name)` behave the same with ORKEST_API_URL as with a database. A secret's value
crosses the wire only in `set_secret`, `read_secret_value` (POST .../reveal) and
`read_block(with_secrets=True)` (POST .../load); lists show "***". The server's refusals
come back as the errors the SQL store raises: SecretNotFound for a missing secret,
SecretKeyError when the server's key cannot decrypt, BlockError for a block that exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from orkest.client.http import ApiSession, encode, segment
from orkest.core.config_records import (
    Automation,
    AutomationFiring,
    BlockRecord,
    SecretInfo,
    VariableRecord,
)
from orkest.errors import (
    BlockError,
    InvalidStateTransition,
    ObjectNotFound,
    SecretKeyError,
    SecretNotFound,
)
from orkest.store import wire

VARIABLE_PAGE = 1000  # the server's cap on /api/variables
FIRING_PAGE = 1000  # and on /api/automations/{id}/firings
T = TypeVar("T")


class RemoteConfig:
    """The configuration store of an orkest API server (mixed into RemoteRunStore, which
    provides `_api`)."""

    _api: ApiSession

    # -- variables ------------------------------------------------------------------------

    def set_variable(self, name: str, value: Any, now: float) -> VariableRecord:
        """`now` is the server's to choose (its clock stamps the record)."""
        data = self._api.request("PUT", f"/variables/{segment(name)}",
                                 body=encode({"value": value}))
        return _variable(data)

    def read_variable(self, name: str) -> VariableRecord:
        return _variable(self._api.get(f"/variables/{segment(name)}"))

    def list_variables(self, *, limit: int = 1000, offset: int = 0) -> list[VariableRecord]:
        items: list[VariableRecord] = []
        while limit > 0:
            n = min(limit, VARIABLE_PAGE)
            found = self._api.get("/variables", {"limit": n, "offset": offset})["items"]
            items.extend(_variable(item) for item in found)
            if len(found) < n:
                break
            limit, offset = limit - n, offset + n
        return items

    def delete_variable(self, name: str) -> None:
        self._api.request("DELETE", f"/variables/{segment(name)}")

    # -- secrets --------------------------------------------------------------------------

    def set_secret(self, name: str, value: str, now: float) -> SecretInfo:
        data = _key_refused(lambda: self._api.request(
            "PUT", f"/secrets/{segment(name)}", body=encode({"value": value})))
        return _secret_info(data)

    def read_secret_value(self, name: str) -> str:
        """POST /api/secrets/{name}/reveal: the one read that returns plaintext."""
        try:
            data = _key_refused(lambda: self._api.post(f"/secrets/{segment(name)}/reveal"))
        except ObjectNotFound as exc:  # the server's message says how to set it
            raise SecretNotFound(str(exc)) from None
        return str(data["value"])

    def list_secrets(self) -> list[SecretInfo]:
        return [_secret_info(item) for item in self._api.get("/secrets")["items"]]

    def delete_secret(self, name: str) -> None:
        self._api.request("DELETE", f"/secrets/{segment(name)}")

    def rotate_secret_key(self, new_key: bytes | None = None) -> int:
        """Re-encrypt on the server, with its key file rotated (or with `new_key`, when the
        server's key comes from ORKEST_SECRET_KEY)."""
        body: dict[str, Any] = {}
        if new_key is not None:
            from orkest.store.crypto import encode_key

            body["new_key"] = encode_key(new_key)
        data = _key_refused(lambda: self._api.post("/secrets/rotate-key", body))
        return int(data["reencrypted"])

    # -- blocks ---------------------------------------------------------------------------

    def save_block(self, record: BlockRecord, *, overwrite: bool, now: float) -> BlockRecord:
        body = {"data": record.data, "secrets": record.secrets or {},
                "secret_fields": list(record.secret_fields),
                "schema_version": record.schema_version}
        path = _block_path(record.block_type, record.name)
        try:
            data = self._api.request("PUT", path, params={"overwrite": _flag(overwrite)},
                                     body=encode(body))
        except InvalidStateTransition as exc:  # 409: it exists, or the key is wrong
            if "exists already" in str(exc):
                raise BlockError(str(exc)) from None
            raise SecretKeyError(str(exc)) from None
        return _block(data)

    def read_block(self, block_type: str, name: str, *,
                   with_secrets: bool = False) -> BlockRecord:
        path = _block_path(block_type, name)
        if not with_secrets:
            return _block(self._api.get(path))
        return _block(_key_refused(lambda: self._api.post(f"{path}/load")), with_secrets=True)

    def list_blocks(self, *, block_type: str | None = None) -> list[BlockRecord]:
        params = {"block_type": block_type} if block_type is not None else None
        return [_block(item) for item in self._api.get("/blocks", params)["items"]]

    def delete_block(self, block_type: str, name: str) -> None:
        self._api.request("DELETE", _block_path(block_type, name))

    # -- automations ----------------------------------------------------------------------

    def save_automation(self, automation: Automation) -> Automation:
        data = self._api.request("PUT", f"/automations/{segment(automation.id)}",
                                 body=encode(wire.dump(automation)))
        return wire.load(Automation, data)

    def list_automations(self, *, enabled: bool | None = None) -> list[Automation]:
        params = None if enabled is None else {"enabled": _flag(enabled)}
        found = self._api.get("/automations", params)
        items = found["items"] if isinstance(found, dict) else found
        return [wire.load(Automation, item) for item in items]

    def delete_automation(self, automation_id: str) -> None:
        self._api.request("DELETE", f"/automations/{segment(automation_id)}")

    def set_automation_cursor(self, automation_id: str, ts: float) -> None:
        self._api.post(f"/automations/{segment(automation_id)}/cursor", {"ts": ts})

    def claim_automation_firing(self, firing: AutomationFiring) -> bool:
        """False when that firing was recorded already (then it is not sent again)."""
        body = {"flow_run_id": firing.flow_run_id, "kind": firing.kind, "ts": firing.ts}
        data = self._api.post(f"/automations/{segment(firing.automation_id)}/firings", body)
        return bool(data["claimed"])

    def list_automation_firings(self, automation_id: str | None = None, *,
                                limit: int = 100) -> list[AutomationFiring]:
        """The newest firings first (of every automation when no id is given)."""
        ids = ([automation_id] if automation_id is not None
               else [a.id for a in self.list_automations()])
        found: list[AutomationFiring] = []
        for ident in ids:
            data = self._api.get(f"/automations/{segment(ident)}/firings",
                                 {"limit": min(limit, FIRING_PAGE)})
            found.extend(wire.load(AutomationFiring, item) for item in data["items"])
        found.sort(key=lambda f: f.ts, reverse=True)
        return found[:limit]


# -- helpers -------------------------------------------------------------------------------

def _key_refused(call: Callable[[], T]) -> T:
    """The server answers 409 when its secret key cannot be used: SecretKeyError here, as
    the SQL store raises it."""
    try:
        return call()
    except InvalidStateTransition as exc:
        raise SecretKeyError(str(exc)) from None


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _block_path(block_type: str, name: str) -> str:
    return f"/blocks/{segment(block_type)}/{segment(name)}"


def _variable(data: dict[str, Any]) -> VariableRecord:
    return VariableRecord(data["name"], data["value"], float(data["created_ts"]),
                          float(data["updated_ts"]))


def _secret_info(data: dict[str, Any]) -> SecretInfo:
    return SecretInfo(data["name"], float(data["created_ts"]), float(data["updated_ts"]),
                      str(data.get("key_id") or ""))


def _block(data: dict[str, Any], *, with_secrets: bool = False) -> BlockRecord:
    """A block from an answer: its `secrets` only from /load (elsewhere they are "***")."""
    return BlockRecord(data["block_type"], data["name"], dict(data["data"]),
                       list(data["secret_fields"]), str(data["schema_version"]),
                       float(data["created_ts"]), float(data["updated_ts"]),
                       secrets=dict(data["secrets"]) if with_secrets else None)
