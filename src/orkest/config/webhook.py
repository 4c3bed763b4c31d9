"""WebhookNotification: POST a JSON message to an HTTP(S) endpoint (chat, pager, own API)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from orkest._internal import masking
from orkest.config.notifications import NotificationBlock
from orkest.errors import NotificationError


class WebhookNotification(NotificationBlock):
    """`WebhookNotification(url="https://hooks.example.com/x", token="...")`.

    Sends `{"text": "<subject>\\n\\n<body>", "subject": ..., "body": ...}` (the `text` key is
    what Slack and Mattermost incoming webhooks read). `token` is sent as
    `Authorization: Bearer <token>`; `secret_headers` are sent like `headers` but stored
    encrypted and masked. Any answer other than 2xx is a failed attempt.
    """

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, SecretStr] = Field(default_factory=dict)
    token: SecretStr | None = None
    timeout: float = Field(default=5.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return url

    def describe_target(self) -> str:
        return f"Webhook {self.url}"

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        headers.update({k: v.get_secret_value() for k, v in self.secret_headers.items()})
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        return headers

    def send(self, subject: str, body: str) -> None:
        import httpx

        payload = {"text": f"{subject}\n\n{body}", "subject": subject, "body": body}
        target = self.describe_target()
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.post(self.url, json=payload, headers=self.request_headers())
        except httpx.TimeoutException:
            raise NotificationError(f"{target} did not answer within {self.timeout:g} s") \
                from None
        except httpx.ConnectError as exc:
            if "refused" in str(exc).lower():
                raise NotificationError(f"{target} refused the connection") from None
            raise NotificationError(f"{target} could not be reached: {_short(exc)}") from None
        except httpx.HTTPError as exc:
            raise NotificationError(f"{target} failed: {_short(exc)}") from None
        if not 200 <= response.status_code < 300:
            answer = _short(response.text) if response.text else response.reason_phrase
            raise NotificationError(f"{target} answered HTTP {response.status_code}: {answer}")


def _short(value: Any, limit: int = 200) -> str:
    text = masking.mask(" ".join(str(value).split()))
    return text if len(text) <= limit else text[:limit] + "..."
