"""Bodies and answers of the configuration API: variables, secrets, blocks.

Answers never carry a secret value except the two routes that exist for a running flow
(`POST /api/secrets/{name}/reveal`, `POST /api/blocks/{type}/{name}/load`): everywhere else
a value is the string "***". The routes write answers from the records; the models below
describe them for the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from orkest.server.models import Answer, Body

MASK = "***"
# A secret value is text of at most this many characters (a key file, a PEM, a token).
MAX_SECRET_CHARS = 1_000_000
MAX_FIELDS = 1000
FieldName = Annotated[str, Field(min_length=1, max_length=200)]
Masked = Literal["***"]


def _no_nul(value: str, field: str) -> str:
    if "\x00" in value:
        raise ValueError(f"{field} has a NUL character")
    return value


# -- variables -----------------------------------------------------------------------------

class VariableIn(Body):
    value: Any = Field(description="Any JSON value: string, number, boolean, null, list, "
                                   "object")


class VariableView(Answer):
    name: str
    value: Any
    created_ts: float
    updated_ts: float


class VariablePage(Answer):
    items: list[VariableView]
    total: int
    limit: int
    offset: int


# -- secrets -------------------------------------------------------------------------------

class SecretIn(Body):
    value: str = Field(max_length=MAX_SECRET_CHARS, description="The plaintext; stored "
                                                                "encrypted, never returned "
                                                                "by a listing")


class SecretView(Answer):
    """What may be shown of a secret: never its value."""

    name: str
    value: Masked
    created_ts: float
    updated_ts: float
    key_id: str = Field(description="Which key encrypted it (a fingerprint, not the key)")


class SecretPage(Answer):
    items: list[SecretView]
    total: int


class RevealedSecret(Answer):
    value: str


class RotateIn(Body):
    new_key: str | None = Field(
        None, max_length=200,
        description="Only when the server's key comes from ORKEST_SECRET_KEY: the new key "
                    "(urlsafe base64 of 32 bytes) to re-encrypt with; set it as "
                    "ORKEST_SECRET_KEY afterwards. Without it the key file is rotated.")


class Rotated(Answer):
    reencrypted: int


# -- blocks --------------------------------------------------------------------------------

class BlockIn(Body):
    data: dict[str, Any] = Field(default_factory=dict,
                                 description="The plain fields, as JSON")
    secrets: dict[FieldName, str] = Field(default_factory=dict,
                                          description="The secret fields' values (stored "
                                                      "encrypted)")
    secret_fields: list[FieldName] = Field(default_factory=list, max_length=MAX_FIELDS)
    schema_version: str = Field("1", min_length=1, max_length=200)

    @field_validator("schema_version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _no_nul(value, "schema_version")

    @field_validator("secret_fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        for name in value:
            _no_nul(name, "secret_fields")
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _no_nul(name, "secrets")
        return value


class BlockView(Answer):
    """A block as shown: its secret fields' values are "***" (and absent when unset)."""

    block_type: str
    name: str
    data: dict[str, Any]
    secret_fields: list[str]
    secrets: dict[str, Masked]
    schema_version: str
    created_ts: float
    updated_ts: float
    block_schema: dict[str, Any] | None = Field(
        None, description="GET of one block: the JSON schema of its class, when the "
                          "server knows the class")


class LoadedBlock(Answer):
    """A block for a running flow: its secret fields in plaintext."""

    block_type: str
    name: str
    data: dict[str, Any]
    secret_fields: list[str]
    secrets: dict[str, str]
    schema_version: str
    created_ts: float
    updated_ts: float


class BlockPage(Answer):
    items: list[BlockView]
    total: int
