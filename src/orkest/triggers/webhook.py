"""Webhook: run a deployment when `POST /api/events/webhook/{name}` is called."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orkest.errors import InvalidTrigger
from orkest.triggers.base import Trigger

WEBHOOK_PREFIX = "webhook/"
# One URL path segment that needs no escaping.
_URL_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,199}")


def webhook_event_name(name: str) -> str:
    return WEBHOOK_PREFIX + name


class Webhook(Trigger):
    """When `POST /api/events/webhook/{name}` receives JSON; templates get the body as
    `{{ event.body }}` (e.g. `{{ event.body.customer_id }}`)."""

    type_name = "webhook"

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        if not isinstance(name, str) or not _URL_SAFE.fullmatch(name):
            raise InvalidTrigger(
                f"Trigger 'webhook' field 'name' is {name!r}: use 1-200 letters, digits, "
                "'.', '_', '~' or '-', starting with a letter or digit (it is a URL segment)")
        self.name = name

    @property
    def event_name(self) -> str:
        return webhook_event_name(self.name)

    def fields(self) -> dict[str, Any]:
        return {"name": self.name}

    def matches(self, name: str, payload: Any) -> bool:
        return name == self.event_name

    def describe(self) -> str:
        return f"When POST /api/events/webhook/{self.name} is called"
