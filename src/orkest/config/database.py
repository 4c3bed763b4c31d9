"""DatabaseConnection: a database URL with its credentials kept apart (and encrypted)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr, field_validator

from orkest.config.blocks import Block


class DatabaseConnection(Block):
    """`DatabaseConnection(url="postgresql+psycopg://db:5432/sales", username="etl",
    password="...")`; `.sqlalchemy_url()` puts them together, `.create_engine()` connects.

    Keep the password out of `url`: only `password` is encrypted and masked.
    """

    url: str
    username: str | None = None
    password: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _parsable(cls, url: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(url)
        except ArgumentError:
            raise ValueError(f"{url!r} is not a database URL (e.g. "
                             "postgresql+psycopg://host:5432/db or sqlite:///path.db)") from None
        return url

    def sqlalchemy_url(self) -> Any:
        """A `sqlalchemy.engine.URL`; its str() and repr() hide the password."""
        from sqlalchemy.engine import make_url

        url = make_url(self.url)
        if self.username is not None:
            url = url.set(username=self.username)
        if self.password is not None:
            url = url.set(password=self.password.get_secret_value())
        return url

    def create_engine(self, **kwargs: Any) -> Any:
        """`sqlalchemy.create_engine` on this connection (kwargs passed through)."""
        from sqlalchemy import create_engine

        return create_engine(self.sqlalchemy_url(), **kwargs)
