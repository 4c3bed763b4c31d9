"""Blocks: typed configuration documents saved by name, their secret fields encrypted.

    class Warehouse(Block):
        url: str
        password: SecretStr

    Warehouse(url="...", password="...").save("prod")
    Warehouse.load("prod").password.get_secret_value()
    Block.load("warehouse/prod")            # any registered type, by "type/name"

A block's type is its class name in kebab-case (`Warehouse` -> "warehouse",
`DatabaseConnection` -> "database-connection") unless the class sets
`block_type: ClassVar[str]`. Plain fields are stored as JSON; every SecretStr/SecretBytes
value, also inside submodels, dicts and lists, is replaced by a placeholder in that JSON
and handed to the store as a secret field, which the store encrypts (store/crypto.py).
Loading registers each secret value for masking, so it shows as `***` in logs and output.

Schema changes: a block remembers a short hash of its class's JSON schema and (as the keys
of its data) the fields it was saved with. A field added with a default is filled in, a
removed field is ignored; a new required field or a stored value that no longer validates
raises BlockError naming the block, the field and how to save it again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any, ClassVar, Self

from pydantic import BaseModel, PrivateAttr, SecretBytes, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from orkest._internal import masking
from orkest.config.values import check_name, config_store
from orkest.core.config_records import BlockRecord
from orkest.errors import BlockError

SECRET_MARK = "$secret"  # {"$secret": "str"|"bytes"} stands where a secret value was
SHOWN_SECRET = "***"

_registry: dict[str, type[Block]] = {}


def kebab_case(class_name: str) -> str:
    """`DatabaseConnection` -> "database-connection", `SMTPServer` -> "smtp-server"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", class_name)
    return spaced.lower()


def block_class(block_type: str) -> type[Block]:
    """The class registered for `block_type`; BlockError says how to make it known."""
    found = _registry.get(block_type)
    if found is None:
        known = ", ".join(sorted(_registry)) or "none"
        raise BlockError(f"No block class has block_type {block_type!r} in this process: "
                         f"import the module that defines it first (known types: {known})")
    return found


def registered_types() -> dict[str, type[Block]]:
    return dict(_registry)


class Block(BaseModel):
    """Base class of typed configuration: subclass it with pydantic fields."""

    block_type: ClassVar[str] = "block"
    _saved_name: str | None = PrivateAttr(default=None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "block_type" not in cls.__dict__:
            cls.block_type = kebab_case(cls.__name__)
        _registry[cls.block_type] = cls

    def __eq__(self, other: object) -> bool:
        """Equal values are equal blocks, whichever name (if any) they were loaded from."""
        if not isinstance(other, BaseModel):
            return NotImplemented
        return (type(self) is type(other) and self.__dict__ == other.__dict__
                and self.__pydantic_extra__ == other.__pydantic_extra__)

    __hash__ = None  # type: ignore[assignment] - mutable, like every pydantic model

    @property
    def block_name(self) -> str | None:
        """The name this block was saved or loaded under (None for a fresh instance)."""
        return self._saved_name

    @classmethod
    def schema_version(cls) -> str:
        """A short hash of the JSON schema: it changes whenever a field or its type does."""
        try:
            schema: Any = cls.model_json_schema()
        except Exception:  # noqa: BLE001 - arbitrary types have no JSON schema
            schema = {name: repr(info.annotation) for name, info in cls.model_fields.items()}
        text = json.dumps(schema, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def save(self, name: str, overwrite: bool = False, *, store: Any = None) -> None:
        """Store this block as `name`; BlockError if it exists and `overwrite` is false."""
        cls = type(self)
        if cls is Block:
            raise BlockError("Block is a base class: save an instance of a subclass of it")
        check_name("block", name)
        data, secrets = split_secrets(self)
        now = time.time()
        record = BlockRecord(block_type=cls.block_type, name=name, data=data,
                             secret_fields=sorted(secrets), schema_version=cls.schema_version(),
                             created_ts=now, updated_ts=now, secrets=secrets)
        for value in secrets.values():
            masking.register(value)
        config_store(store).save_block(record, overwrite=overwrite, now=now)
        self._saved_name = name

    @classmethod
    def load(cls, name: str, *, store: Any = None) -> Self:
        """The block saved as `name` (or "type/name"), secret fields decrypted and masked.

        `Block.load("type/name")` returns an instance of the class registered for the type.
        ObjectNotFound if there is none; BlockError if its schema no longer fits.
        """
        target, block_name = cls._resolve(name)
        record = config_store(store).read_block(target.block_type, block_name,
                                                with_secrets=True)
        secrets = record.secrets or {}
        for value in secrets.values():
            masking.register(value)
        data = join_secrets(record, secrets)
        block = target.from_stored(record, data)
        block._saved_name = block_name  # noqa: SLF001 - the same class family
        return block  # type: ignore[return-value]

    @classmethod
    def delete(cls, name: str, *, store: Any = None) -> None:
        target, block_name = cls._resolve(name)
        config_store(store).delete_block(target.block_type, block_name)

    @classmethod
    def _resolve(cls, ref: str) -> tuple[type[Block], str]:
        if not isinstance(ref, str):
            raise TypeError(f"A block name must be a str, not {type(ref).__name__}")
        if "/" in ref:
            block_type, name = ref.split("/", 1)
            target = cls if block_type == cls.block_type else block_class(block_type)
            if not issubclass(target, cls):
                raise BlockError(f"{cls.__name__}.load({ref!r}): {block_type!r} blocks are "
                                 f"{target.__name__}, not {cls.__name__}")
        elif cls is Block:
            raise BlockError(f"Block.load({ref!r}) needs the type too: Block.load('type/name')"
                             " (see `orkest block ls`), or load through the block's class")
        else:
            target, name = cls, ref
        return target, check_name("block", name)

    @classmethod
    def from_stored(cls, record: BlockRecord, data: dict[str, Any]) -> Self:
        """Validate stored data against the class as it is now (see the module docstring)."""
        label = f"{record.block_type}/{record.name}"
        # Stored keys are the fields' aliases where they have one (what validation reads).
        keys = {info.alias or name: name for name, info in cls.model_fields.items()}
        for key, field_name in keys.items():
            if cls.model_fields[field_name].is_required() and key not in data:
                raise BlockError(
                    f"Block {label} was saved without field {field_name!r}, which "
                    f"{cls.__name__} now requires: give the field a default, or save the "
                    f"block again with it: {cls.__name__}(..., {field_name}=...)"
                    f".save({record.name!r}, overwrite=True)")
        current = {key: value for key, value in data.items() if key in keys}
        try:
            return cls.model_validate(current)
        except ValidationError as exc:
            problems = "; ".join(_describe(error) for error in exc.errors())
            hint = ("it was saved with another version of the class, " if
                    record.schema_version != cls.schema_version() else "")
            raise BlockError(
                f"Block {label} no longer fits {cls.__name__} ({hint}{problems}): save it "
                f"again with valid values: {cls.__name__}(...).save({record.name!r}, "
                "overwrite=True)") from None


def _describe(error: Any) -> str:
    """One validation problem, naming the field and the stored type, never the value."""
    where = ".".join(str(part) for part in error.get("loc", ())) or "(block)"
    kind = type(error.get("input")).__name__
    return f"field {where!r}: {error.get('msg', 'invalid')} (stored a {kind})"


def split_secrets(block: BaseModel) -> tuple[dict[str, Any], dict[str, str]]:
    """(JSON data with placeholders, {field path: secret value}) of a block."""
    secrets: dict[str, str] = {}
    data = _split(block.model_dump(mode="python", by_alias=True), (), secrets)
    return data, secrets


def _split(value: Any, path: tuple[str, ...], secrets: dict[str, str]) -> Any:
    if isinstance(value, SecretStr):
        secrets[field_path(path)] = value.get_secret_value()
        return {SECRET_MARK: "str"}
    if isinstance(value, SecretBytes):
        secrets[field_path(path)] = base64.b64encode(value.get_secret_value()).decode("ascii")
        return {SECRET_MARK: "bytes"}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            text_key = str(to_jsonable_python(key))
            out[text_key] = _split(item, (*path, text_key), secrets)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [_split(item, (*path, str(i)), secrets) for i, item in enumerate(value)]
    return to_jsonable_python(value)


def field_path(path: tuple[str, ...]) -> str:
    """"password", "auth.token", "secret_headers.X-Key" ('~' and '.' in keys escaped)."""
    return ".".join(part.replace("~", "~0").replace(".", "~1") for part in path)


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and SECRET_MARK in value


def join_secrets(record: BlockRecord, secrets: dict[str, str]) -> dict[str, Any]:
    """The stored data with every placeholder replaced by its decrypted value.

    A secret without a placeholder (a block saved through the API or UI, as data plus
    secrets by field path) is put at its path.
    """
    used: set[str] = set()

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if _is_placeholder(value):
            key = field_path(path)
            if key not in secrets:
                raise BlockError(f"Block {record.block_type}/{record.name}: the secret field "
                                 f"{key!r} has no stored value; save the block again")
            used.add(key)
            secret = secrets[key]
            return base64.b64decode(secret) if value[SECRET_MARK] == "bytes" else secret
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, str(i))) for i, v in enumerate(value)]
        return value

    data = walk(record.data, ())
    for key in sorted(set(secrets) - used):
        *parents, last = [p.replace("~1", ".").replace("~0", "~") for p in key.split(".")]
        target = data
        for part in parents:
            target = target.setdefault(part, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[last] = secrets[key]
    return data


def shown_data(record: BlockRecord) -> dict[str, Any]:
    """What list and inspect show of a block: its data with every secret as `***`."""

    def walk(value: Any) -> Any:
        if _is_placeholder(value):
            return SHOWN_SECRET
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return masking.mask_value(value)

    return walk(record.data)
