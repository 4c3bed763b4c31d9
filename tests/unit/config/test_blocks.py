"""Blocks on a real SQLite store: round trip, encrypted secret fields, masking, schema changes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from orkest._internal import masking
from orkest.config import Block, DatabaseConnection, SmtpNotification, WebhookNotification
from orkest.config.blocks import block_class, kebab_case
from orkest.errors import BlockError, ObjectNotFound
from orkest.store import open_store

CANARY = "canary-pw-7f3a9c"
NESTED_CANARY = "nested-key-51bd0e"


@pytest.fixture(autouse=True)
def clean_masking() -> None:
    masking.reset()
    yield
    masking.reset()


class Credentials(BaseModel):
    user: str
    key: SecretStr


class Warehouse(Block):
    url: str
    password: SecretStr
    port: int = 5432
    credentials: Credentials | None = None
    tokens: dict[str, SecretStr] = {}
    certificate: SecretBytes | None = None


def make_warehouse() -> Warehouse:
    return Warehouse(url="postgresql://wh/sales", password=CANARY,
                     credentials=Credentials(user="etl", key=NESTED_CANARY),
                     tokens={"api.v1": "token-value-9e2"}, certificate=b"\x00cert-bytes")


def db_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("orkest.db*"))


def test_round_trip_keeps_every_field() -> None:
    make_warehouse().save("prod")
    loaded = Warehouse.load("prod")
    assert loaded == make_warehouse()
    assert loaded.password.get_secret_value() == CANARY
    assert loaded.credentials.key.get_secret_value() == NESTED_CANARY
    assert loaded.tokens["api.v1"].get_secret_value() == "token-value-9e2"
    assert loaded.certificate.get_secret_value() == b"\x00cert-bytes"
    assert loaded.block_name == "prod"


def test_secret_fields_are_encrypted_in_the_sqlite_file(orkest_home: Path) -> None:
    make_warehouse().save("prod")
    raw = db_bytes(orkest_home)
    assert b"postgresql://wh/sales" in raw  # plain fields are plain JSON
    for secret in (CANARY, NESTED_CANARY, "token-value-9e2", "cert-bytes"):
        assert secret.encode() not in raw, secret
    record = open_store().read_block("warehouse", "prod")
    assert record.secrets is None
    assert record.secret_fields == ["certificate", "credentials.key", "password",
                                    "tokens.api~1v1"]


def test_repr_and_str_never_show_secret_values() -> None:
    block = make_warehouse()
    block.save("prod")
    for shown in (repr(block), str(block), repr(Warehouse.load("prod")),
                  str(Warehouse.load("prod"))):
        assert CANARY not in shown and NESTED_CANARY not in shown


def test_load_registers_secret_values_for_masking() -> None:
    make_warehouse().save("prod")
    masking.reset()
    Warehouse.load("prod")
    assert masking.mask(f"connecting with {CANARY} and {NESTED_CANARY}") == \
        "connecting with *** and ***"


def test_overwrite_is_refused_unless_asked() -> None:
    make_warehouse().save("prod")
    changed = make_warehouse().model_copy(update={"port": 6543})
    with pytest.raises(BlockError, match="warehouse/prod exists already.*overwrite=True"):
        changed.save("prod")
    assert Warehouse.load("prod").port == 5432
    changed.save("prod", overwrite=True)
    assert Warehouse.load("prod").port == 6543


def test_base_class_loads_the_registered_subclass() -> None:
    make_warehouse().save("prod")
    loaded = Block.load("warehouse/prod")
    assert type(loaded) is Warehouse
    assert Warehouse.load("warehouse/prod") == loaded
    with pytest.raises(BlockError, match="needs the type too"):
        Block.load("prod")
    with pytest.raises(BlockError, match="are Warehouse, not DatabaseConnection"):
        DatabaseConnection.load("warehouse/prod")


def test_unknown_type_and_missing_block_say_what_to_do() -> None:
    with pytest.raises(BlockError, match="No block class has block_type 'nope'.*import"):
        Block.load("nope/x")
    with pytest.raises(ObjectNotFound, match="No block warehouse/absent.*orkest block ls"):
        Warehouse.load("absent")


def test_block_type_is_kebab_case_unless_set() -> None:
    class CustomOne(Block):
        block_type: ClassVar[str] = "my-custom"
        value: int = 1

    assert kebab_case("SMTPServer") == "smtp-server"
    assert Warehouse.block_type == "warehouse"
    assert DatabaseConnection.block_type == "database-connection"
    assert WebhookNotification.block_type == "webhook-notification"
    assert SmtpNotification.block_type == "smtp-notification"
    assert block_class("my-custom") is CustomOne


def test_bad_names_are_refused() -> None:
    with pytest.raises(ValueError, match="Invalid block name 'a/b'"):
        make_warehouse().save("a/b")


# -- schema changes: the class changes after the block was saved ---------------------------

def save_version_one() -> None:
    class Service(Block):
        url: str
        retired: str = "old field"

    Service(url="http://svc").save("main")


def test_added_field_with_default_loads() -> None:
    save_version_one()

    class Service(Block):  # a field added with a default; "retired" was removed
        url: str
        timeout: float = 30.0

    loaded = Service.load("main")
    assert loaded.url == "http://svc" and loaded.timeout == 30.0
    assert not hasattr(loaded, "retired")


def test_added_required_field_names_block_field_and_fix() -> None:
    save_version_one()

    class Service(Block):
        url: str
        region: str

    with pytest.raises(BlockError) as caught:
        Service.load("main")
    message = str(caught.value)
    assert "service/main" in message and "'region'" in message
    assert ".save('main', overwrite=True)" in message
    Service(url="http://svc", region="eu").save("main", overwrite=True)
    assert Service.load("main").region == "eu"


def test_changed_field_type_names_block_field_and_fix() -> None:
    save_version_one()

    class Service(Block):
        url: int  # the stored str no longer validates

    with pytest.raises(BlockError) as caught:
        Service.load("main")
    message = str(caught.value)
    assert "service/main" in message and "field 'url'" in message
    assert "another version of the class" in message and "overwrite=True" in message


def test_schema_version_follows_the_fields() -> None:
    class Alpha(Block):
        x: int

    first = Alpha.schema_version()

    class Alpha(Block):  # noqa: F811 - the same class, changed
        x: int
        y: str = ""

    assert Alpha.schema_version() != first
    Alpha(x=1).save("a")
    assert open_store().read_block("alpha", "a").schema_version == Alpha.schema_version()


# -- shipped blocks --------------------------------------------------------------------------

def test_database_connection_gives_a_sqlalchemy_url() -> None:
    DatabaseConnection(url="postgresql+psycopg://db.example:5432/sales", username="etl",
                       password=CANARY).save("sales")
    connection = DatabaseConnection.load("sales")
    url = connection.sqlalchemy_url()
    assert url.render_as_string(hide_password=False) == \
        f"postgresql+psycopg://etl:{CANARY}@db.example:5432/sales"
    assert CANARY not in str(url) and CANARY not in repr(connection)
    with pytest.raises(ValueError, match="is not a database URL"):
        DatabaseConnection(url="not a url")


def test_database_connection_connects(tmp_path: Path) -> None:
    from sqlalchemy import text

    engine = DatabaseConnection(url=f"sqlite:///{tmp_path / 'x.db'}").create_engine()
    with engine.connect() as conn:
        assert conn.execute(text("select 41 + 1")).scalar() == 42
    engine.dispose()


def test_notification_blocks_round_trip_with_secret_headers() -> None:
    WebhookNotification(url="http://127.0.0.1:9/hook", headers={"X-Team": "data"},
                        secret_headers={"X-Key": "header-secret-1"}, token="bearer-secret-2"
                        ).save("ops")
    SmtpNotification(host="127.0.0.1", from_addr="orkest@example.com",
                     to_addrs=["ops@example.com"], username="u", password="smtp-secret-3"
                     ).save("mail")
    hook = WebhookNotification.load("ops")
    assert hook.request_headers() == {"X-Team": "data", "X-Key": "header-secret-1",
                                      "Authorization": "Bearer bearer-secret-2"}
    assert SmtpNotification.load("mail").password.get_secret_value() == "smtp-secret-3"
    record = open_store().read_block("webhook-notification", "ops")
    assert record.secret_fields == ["secret_headers.X-Key", "token"]
    with pytest.raises(ValueError, match="not an http"):
        WebhookNotification(url="ftp://x")


def test_aliased_fields_round_trip() -> None:
    from pydantic import Field

    class Aliased(Block):
        api_key: SecretStr = Field(alias="apiKey")
        region: str = Field(default="eu", alias="Region")

    Aliased(apiKey="alias-secret-1").save("a")
    loaded = Aliased.load("a")
    assert loaded.api_key.get_secret_value() == "alias-secret-1" and loaded.region == "eu"


def test_loaded_blocks_travel_to_other_processes() -> None:
    import cloudpickle

    make_warehouse().save("prod")
    loaded = Warehouse.load("prod")
    again = cloudpickle.loads(cloudpickle.dumps(loaded))
    assert again == loaded and again.block_name == "prod"


def test_a_block_saved_as_data_plus_secrets_loads() -> None:
    """What the API and UI save: plain data, and the secret values by field path."""
    from orkest.core.config_records import BlockRecord

    record = BlockRecord(block_type="warehouse", name="ui", data={"url": "postgresql://x"},
                         secret_fields=["password", "credentials.key"], schema_version="",
                         created_ts=0, updated_ts=0,
                         secrets={"password": "ui-secret-1", "credentials.key": "ui-secret-2"})
    open_store().save_block(record, overwrite=False, now=1.0)
    assert open_store().read_block("warehouse", "ui").data == {"url": "postgresql://x"}
    with pytest.raises(BlockError, match="field 'credentials.user'"):
        Warehouse.load("ui")  # the nested model lacks its plain field
    record.secret_fields, record.secrets = ["password"], {"password": "ui-secret-1"}
    open_store().save_block(record, overwrite=True, now=2.0)
    loaded = Warehouse.load("ui")
    assert loaded.password.get_secret_value() == "ui-secret-1"
    assert masking.mask("ui-secret-1") == "***"
