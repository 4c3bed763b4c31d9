"""Configuration that does not live in code: variables, secrets, typed blocks (SPEC §7).

    Variable.set("batch_size", 500); Variable.get("batch_size", default=100)
    Secret.set("warehouse-password", "..."); Secret("warehouse-password").get()

    class Warehouse(Block): url: str; password: SecretStr
    Warehouse(url="...", password="...").save("prod"); Warehouse.load("prod")
    @flow(on_failure=[WebhookNotification.load("ops")])

Values live in the configured store (the database, or the API server with ORKEST_API_URL).
Secrets are encrypted at rest (store/crypto.py); `ORKEST_SECRET_<NAME>` overrides one from
the environment. Every secret value a process reads is masked as `***` wherever orkest
stores or shows text (orkest._internal.masking).
"""

from __future__ import annotations

from orkest.config.blocks import Block
from orkest.config.database import DatabaseConnection
from orkest.config.notifications import NotificationBlock, deliver, render_run_message
from orkest.config.smtp import SmtpNotification
from orkest.config.values import Secret, Variable
from orkest.config.webhook import WebhookNotification

__all__ = [
    "Block",
    "DatabaseConnection",
    "NotificationBlock",
    "Secret",
    "SmtpNotification",
    "Variable",
    "WebhookNotification",
    "deliver",
    "render_run_message",
]
