"""The ConfigStore port on SQL: variables, encrypted secrets, blocks, automations.

A mixin of SqlRunStore. Secret values (and blocks' secret fields) are encrypted here with
the key of store/crypto.py before they reach the database, and decrypted only by the two
methods that exist for a running flow: read_secret_value and read_block(with_secrets=True).
Lists and inspections never decrypt.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, select, update

from orkest.core.config_records import (
    Automation,
    AutomationFiring,
    BlockRecord,
    SecretInfo,
    VariableRecord,
)
from orkest.errors import BlockError, ObjectNotFound, SecretKeyError, SecretNotFound
from orkest.store import crypto
from orkest.store.sql import dialects
from orkest.store.sql.rows import record_from_row, record_values
from orkest.store.sql.tables import automation_firings, automations, blocks, secrets, variables

_BLOCK_FIELDS = ("block_type", "name", "data", "secret_fields", "schema_version",
                 "created_ts", "updated_ts")


def missing_secret(name: str) -> SecretNotFound:
    env = "ORKEST_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()
    return SecretNotFound(f"No secret {name!r}: set it with `orkest secret set {name}` (or "
                          f"Secret.set({name!r}, value)), or export {env}")


class SqlConfig:
    """Methods SqlRunStore gains for the configuration store."""

    _dialect: str
    _write: Callable[..., Any]
    _all: Callable[..., list[Mapping[str, Any]]]
    # Tests and `rotate-key` may point the store at another home's key file.
    key_home: Path | None = None

    def _key(self) -> crypto.SecretKey:
        self.finish_interrupted_rotation()
        return crypto.current_key(home=self.key_home)

    def finish_interrupted_rotation(self) -> bool:
        """Promote a leftover secret.key.new when stored values were re-encrypted with it:
        the rotation committed but stopped before renaming the key file. Without this the
        next rotation would stage a fresh key over it and those values would have no key."""
        if os.environ.get(crypto.KEY_ENV):
            return False
        staged = crypto.key_path(self.key_home).with_name(crypto.NEW_KEY_FILE)
        if not staged.exists():
            return False
        try:
            staged_id = crypto.key_id(crypto.decode_key(staged.read_text(), str(staged)))
        except (OSError, SecretKeyError):
            return False  # half-written, or gone meanwhile: it encrypted nothing
        used = {r["key_id"] for r in self._all(select(secrets.c.key_id).distinct())}
        for row in self._all(select(blocks.c.secret_values)):
            used.update(v.get("key_id") for v in (row["secret_values"] or {}).values())
        if staged_id not in used:
            return False
        crypto.promote_new_key(staged)
        return True

    # -- variables ------------------------------------------------------------------------

    def set_variable(self, name: str, value: Any, now: float) -> VariableRecord:
        upsert = dialects.upsert(variables, self._dialect, "name", keep=("created_ts",))
        self._write(lambda conn: conn.execute(upsert.values(
            name=name, value=value, created_ts=now, updated_ts=now)))
        return self.read_variable(name)

    def read_variable(self, name: str) -> VariableRecord:
        found = self._all(select(variables).where(variables.c.name == name))
        if not found:
            raise ObjectNotFound(f"No variable {name!r}: set it with `orkest variable set "
                                 f"{name} VALUE` (or Variable.set({name!r}, value))")
        return record_from_row(VariableRecord, found[0])

    def list_variables(self, *, limit: int = 1000, offset: int = 0) -> list[VariableRecord]:
        stmt = select(variables).order_by(variables.c.name).limit(limit).offset(offset)
        return [record_from_row(VariableRecord, r) for r in self._all(stmt)]

    def delete_variable(self, name: str) -> None:
        self._delete(variables, variables.c.name == name, f"No variable {name!r}")

    # -- secrets --------------------------------------------------------------------------

    def set_secret(self, name: str, value: str, now: float) -> SecretInfo:
        key = self._key()
        blob = key.encrypt(value, name)
        upsert = dialects.upsert(secrets, self._dialect, "name", keep=("created_ts",))
        self._write(lambda conn: conn.execute(upsert.values(
            name=name, ciphertext=blob, key_id=key.id, created_ts=now, updated_ts=now)))
        return next(s for s in self.list_secrets() if s.name == name)

    def read_secret_value(self, name: str) -> str:
        """The plaintext, for the running flow that asked for it (never for a listing)."""
        found = self._all(select(secrets).where(secrets.c.name == name))
        if not found:
            raise missing_secret(name)
        row = found[0]
        return self._key().decrypt(bytes(row["ciphertext"]), name, row["key_id"])

    def list_secrets(self) -> list[SecretInfo]:
        c = secrets.c
        stmt = select(c.name, c.created_ts, c.updated_ts, c.key_id).order_by(c.name)
        return [SecretInfo(r["name"], r["created_ts"], r["updated_ts"], r["key_id"])
                for r in self._all(stmt)]

    def delete_secret(self, name: str) -> None:
        self._delete(secrets, secrets.c.name == name, f"No secret {name!r}")

    def rotate_secret_key(self, new_key: bytes | None = None) -> int:
        """Re-encrypt every secret value with a new key, in one transaction; how many.

        Without `new_key` the key file is rotated: the new key is staged beside it and
        takes its place only after the commit. With `new_key` (the old key came from
        ORKEST_SECRET_KEY) the caller sets the new one where orkest runs.
        """
        old = self._key()
        if new_key is None:
            staged, staged_path = crypto.stage_new_key(self.key_home)
        else:
            staged, staged_path = crypto.SecretKey(new_key, "--new-key"), None

        def run(conn: Connection) -> int:
            count = 0
            for row in conn.execute(select(secrets)).mappings().all():
                plain = old.decrypt(bytes(row["ciphertext"]), row["name"], row["key_id"])
                conn.execute(update(secrets).where(secrets.c.name == row["name"]).values(
                    ciphertext=staged.encrypt(plain, row["name"]), key_id=staged.id))
                count += 1
            for row in conn.execute(select(blocks)).mappings().all():
                values = _decrypt_fields(old, row)
                if not values:
                    continue
                conn.execute(update(blocks).where(
                    blocks.c.block_type == row["block_type"], blocks.c.name == row["name"]
                ).values(secret_values=_encrypt_fields(staged, row["block_type"],
                                                       row["name"], values)))
                count += len(values)
            return count

        count = int(self._write(run))
        if staged_path is not None:
            crypto.promote_new_key(staged_path)
        return count

    # -- blocks ---------------------------------------------------------------------------

    def save_block(self, record: BlockRecord, *, overwrite: bool, now: float) -> BlockRecord:
        """Store a block with its secret fields (`record.secrets`) encrypted; BlockError
        when it exists and `overwrite` is false."""
        key = self._key()
        values = _encrypt_fields(key, record.block_type, record.name, record.secrets or {})

        def run(conn: Connection) -> None:
            c = blocks.c
            where = (c.block_type == record.block_type) & (c.name == record.name)
            found = conn.execute(dialects.for_update(select(c.created_ts).where(where),
                                                     self._dialect)).first()
            row = {"data": record.data, "secret_fields": list(record.secret_fields),
                   "secret_values": values, "schema_version": record.schema_version,
                   "updated_ts": now}
            if found is None:
                conn.execute(blocks.insert().values(block_type=record.block_type,
                                                    name=record.name, created_ts=now, **row))
            elif not overwrite:
                raise BlockError(f"Block {record.block_type}/{record.name} exists already: "
                                 "save it with overwrite=True to replace it")
            else:
                conn.execute(update(blocks).where(where).values(**row))

        self._write(run)
        return self.read_block(record.block_type, record.name)

    def read_block(self, block_type: str, name: str, *,
                   with_secrets: bool = False) -> BlockRecord:
        c = blocks.c
        found = self._all(select(blocks).where(c.block_type == block_type, c.name == name))
        if not found:
            raise ObjectNotFound(f"No block {block_type}/{name} (see `orkest block ls`)")
        row = found[0]
        record = BlockRecord(**{f: row[f] for f in _BLOCK_FIELDS})
        if with_secrets:
            record.secrets = _decrypt_fields(self._key(), row)
        return record

    def list_blocks(self, *, block_type: str | None = None) -> list[BlockRecord]:
        c = blocks.c
        stmt = select(*[c[f] for f in _BLOCK_FIELDS]).order_by(c.block_type, c.name)
        if block_type is not None:
            stmt = stmt.where(c.block_type == block_type)
        return [BlockRecord(**{f: r[f] for f in _BLOCK_FIELDS}) for r in self._all(stmt)]

    def delete_block(self, block_type: str, name: str) -> None:
        c = blocks.c
        self._delete(blocks, (c.block_type == block_type) & (c.name == name),
                     f"No block {block_type}/{name}")

    # -- automations ----------------------------------------------------------------------

    def save_automation(self, automation: Automation) -> Automation:
        upsert = dialects.upsert(automations, self._dialect, "id")
        self._write(lambda conn: conn.execute(upsert.values(**record_values(automation))))
        return automation

    def list_automations(self, *, enabled: bool | None = None) -> list[Automation]:
        stmt = select(automations).order_by(automations.c.name, automations.c.id)
        if enabled is not None:
            stmt = stmt.where(automations.c.enabled == enabled)
        return [record_from_row(Automation, r) for r in self._all(stmt)]

    def read_automation(self, automation_id: str) -> Automation:
        found = self._all(select(automations).where(automations.c.id == automation_id))
        if not found:
            raise ObjectNotFound(f"No automation {automation_id!r} (see `orkest automation "
                                 "ls`)")
        return record_from_row(Automation, found[0])

    def delete_automation(self, automation_id: str) -> None:
        """Forget it and what it fired (a new one of the same name starts afresh)."""
        def run(conn: Connection) -> None:
            if not conn.execute(delete(automations).where(
                    automations.c.id == automation_id)).rowcount:
                raise ObjectNotFound(f"No automation {automation_id!r}")
            conn.execute(delete(automation_firings).where(
                automation_firings.c.automation_id == automation_id))

        self._write(run)

    def claim_automation_firing(self, firing: AutomationFiring) -> bool:
        """Record that `firing` happens; False when it was recorded already (by this
        service earlier, or by another one at the same time): then do not send it."""
        # RETURNING, not rowcount: psycopg counts a row that ON CONFLICT skipped.
        stmt = dialects.insert(automation_firings, self._dialect).on_conflict_do_nothing(
            index_elements=["automation_id", "flow_run_id", "kind"]).returning(
            automation_firings.c.kind)
        inserted = self._write(lambda conn: conn.execute(stmt.values(
            **record_values(firing))).first())
        return inserted is not None

    def list_automation_firings(self, automation_id: str | None = None, *,
                                limit: int = 100) -> list[AutomationFiring]:
        """The newest firings first."""
        c = automation_firings.c
        stmt = select(automation_firings).order_by(c.ts.desc()).limit(limit)
        if automation_id is not None:
            stmt = stmt.where(c.automation_id == automation_id)
        return [record_from_row(AutomationFiring, r) for r in self._all(stmt)]

    def set_automation_cursor(self, automation_id: str, ts: float) -> None:
        self._write(lambda conn: conn.execute(update(automations).where(
            automations.c.id == automation_id).values(last_checked_ts=ts)))

    # -- plumbing -------------------------------------------------------------------------

    def _delete(self, table: Any, where: Any, missing: str) -> None:
        def run(conn: Connection) -> None:
            if not conn.execute(delete(table).where(where)).rowcount:
                raise ObjectNotFound(missing)

        self._write(run)


def _field_name(block_type: str, name: str, field: str) -> str:
    """The associated data of a block's secret field: its ciphertext fits nowhere else."""
    return f"block:{block_type}/{name}#{field}"


def _encrypt_fields(key: crypto.SecretKey, block_type: str, name: str,
                    values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {field: {"ciphertext": base64.b64encode(key.encrypt(
        value, _field_name(block_type, name, field))).decode("ascii"), "key_id": key.id}
        for field, value in values.items()}


def _decrypt_fields(key: crypto.SecretKey, row: Mapping[str, Any]) -> dict[str, str]:
    return {field: key.decrypt(base64.b64decode(stored["ciphertext"]),
                               _field_name(row["block_type"], row["name"], field),
                               stored["key_id"])
            for field, stored in (row["secret_values"] or {}).items()}
