"""SmtpNotification: send the message as a plain-text e-mail through an SMTP server."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from pydantic import Field, SecretStr

from orkest.config.notifications import NotificationBlock
from orkest.errors import NotificationError

logger = logging.getLogger("orkest.notifications")


class SmtpNotification(NotificationBlock):
    """`SmtpNotification(host="mail.example.com", from_addr="orkest@example.com",
    to_addrs=["ops@example.com"], username="orkest", password="...", starttls=True)`.

    Port 25 by default (587 is usual with `starttls=True`). Each network step times out
    after `timeout` seconds.
    """

    host: str
    port: int = Field(default=25, ge=1, le=65535)
    from_addr: str
    to_addrs: list[str] = Field(min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout: float = Field(default=10.0, gt=0, le=300)

    def describe_target(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def build_message(self, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = " ".join(subject.split())  # a header is one line
        message["From"] = self.from_addr
        message["To"] = ", ".join(self.to_addrs)
        message.set_content(body)
        return message

    def send(self, subject: str, body: str) -> None:
        target = self.describe_target()
        message = self.build_message(subject, body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    password = self.password.get_secret_value() if self.password else ""
                    smtp.login(self.username, password)
                refused = smtp.send_message(message, self.from_addr, self.to_addrs)
        except ConnectionRefusedError:
            raise NotificationError(f"{target} refused the connection") from None
        except TimeoutError:
            raise NotificationError(f"{target} did not answer within {self.timeout:g} s") \
                from None
        except smtplib.SMTPAuthenticationError as exc:
            raise NotificationError(f"{target} rejected the login of {self.username!r}: "
                                    f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotificationError(f"{target} refused every recipient: "
                                    f"{', '.join(exc.recipients)}") from None
        except smtplib.SMTPException as exc:
            raise NotificationError(f"{target} failed: {exc}") from None
        except OSError as exc:
            raise NotificationError(f"{target} could not be reached: {exc}") from None
        if refused:
            # Some recipients got it: retrying would send them duplicates, so only report.
            logger.warning("%s refused recipients %s", target, ", ".join(sorted(refused)))


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
