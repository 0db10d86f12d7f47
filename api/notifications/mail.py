"""E-mail delivery over SMTP (the standard library's client; the worker calls it from a
thread). STARTTLS and a login are optional settings. The Message-ID is stable per
notification, so a mail sent again after a crash carries the same id (mail stores and
clients that dedupe on it show it once)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime

from api.accounts.tables import utcnow
from api.notifications.attempts import Outcome
from api.notifications.claims import Claim
from pipelines.core.settings import NotificationSettings


def message_of(claim: Claim, settings: NotificationSettings) -> EmailMessage:
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = claim.destination
    mail["Subject"] = claim.message["subject"]
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = f"<{claim.delivery_id}@{domain}>"
    mail.set_content(claim.message["text"])
    return mail


def _send(mail: EmailMessage, settings: NotificationSettings) -> None:
    assert settings.smtp_host is not None
    timeout = settings.request_timeout_seconds
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
        smtp.send_message(mail)


def _reply_outcome(code: int, text: str) -> Outcome:
    """5xx replies are permanent, anything else may pass later."""
    if 500 <= code < 600:
        return Outcome.fail(f"SMTP {code}: {text}", code)
    return Outcome.retry(f"SMTP {code}: {text}", code)


def deliver(claim: Claim, settings: NotificationSettings) -> Outcome:
    if not settings.smtp_host:
        return Outcome.fail("SMTP is not configured (RWA_SMTP_HOST)")
    try:
        _send(message_of(claim, settings), settings)
    except smtplib.SMTPRecipientsRefused as error:
        code, refusal = next(iter(error.recipients.values()))
        return _reply_outcome(code, refusal.decode(errors="replace"))
    except smtplib.SMTPResponseException as error:
        reply: bytes | str = error.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        return _reply_outcome(error.smtp_code, text)
    except (smtplib.SMTPException, OSError) as error:
        return Outcome.retry(f"{type(error).__name__}: {error}")
    return Outcome.sent(250)
