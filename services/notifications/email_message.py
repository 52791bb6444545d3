"""The email of a delivery: headers that thread a ticket, text and HTML parts.

Every message of a ticket names the ticket's thread root in ``In-Reply-To``
and ``References`` (the opening confirmation *is* the root: its
``Message-ID`` is the root's), so mail clients show one conversation, and
``Reply-To: ticket+{ticket_id}@REPLY_DOMAIN`` lets an inbound channel match a
reply to its ticket later. Names in Arabic are encoded by the ``email``
package (RFC 2047), subjects by ``EncodedSubject``; bodies are UTF-8.
"""
from __future__ import annotations

import base64
import email.policy
import re
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from services.notifications.rendering import Rendered

_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>\Z")
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\Z")


def message_id_for(event_id: str, n: int, domain: str) -> str:
    """``<{event_id}.{n}@{domain}>``: the n-th message caused by one event (one per recipient)."""
    return f"<{event_id}.{int(n)}@{_domain(domain)}>"


def thread_root(ticket_id: str, domain: str) -> str:
    """``<ticket-{ticket_id}@{domain}>``: the Message-ID every message of the ticket refers to."""
    return f"<ticket-{_part(ticket_id)}@{_domain(domain)}>"


def reply_address(ticket_id: str, domain: str) -> str:
    """``ticket+{ticket_id}@{domain}``: where the ticket's replies go."""
    return f"ticket+{_part(ticket_id)}@{_domain(domain)}"


def build_email(*, sender_name: str, sender_address: str, to: str, rendered: Rendered, message_id: str,
                thread_id: str | None = None, reply_to: str | None = None, to_name: str | None = None,
                date: datetime | None = None) -> EmailMessage:
    """A ``multipart/alternative`` message (text, then HTML) ready for ``SmtpSender.send``.

    Addresses that do not parse raise ``ValueError``."""
    for header, value in (("message_id", message_id), ("thread_id", thread_id)):
        if value is not None and not _MESSAGE_ID.match(value):
            raise ValueError(f"{header} must look like <id@domain>, got {value!r}")
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = Address(display_name=_one_line(sender_name), addr_spec=sender_address)
    message["To"] = Address(display_name=_one_line(to_name or ""), addr_spec=to)
    message["Subject"] = EncodedSubject(_one_line(rendered.subject))
    message["Date"] = format_datetime(date or datetime.now(timezone.utc))
    message["Message-ID"] = message_id
    if thread_id and thread_id != message_id:
        message["In-Reply-To"] = thread_id
        message["References"] = thread_id
    if reply_to:
        message["Reply-To"] = Address(addr_spec=reply_to)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not answer
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message


class EncodedSubject(str):
    """A subject the ``email`` package writes as we encode it. Its own folding
    splits a long non-ASCII subject between encoded words at a space, which
    readers then drop ("يصلني رقم" arrives as "يصلنيرقم"); here each encoded
    word carries its spaces inside it (RFC 2047), folded one per line."""

    name = "Subject"
    CHUNK_BYTES = 42  # "Subject: " + one encoded word of 42 bytes stays within 78 characters

    def fold(self, *, policy) -> str:
        if self.isascii():
            return policy.header_factory(self.name, str(self)).fold(policy=policy)
        words, chunk = [], ""
        for character in str(self):  # never splitting a character's bytes
            if chunk and len((chunk + character).encode()) > self.CHUNK_BYTES:
                words.append(chunk)
                chunk = ""
            chunk += character
        words.append(chunk)
        encoded = [f"=?utf-8?b?{base64.b64encode(word.encode()).decode()}?=" for word in words]
        return f"{self.name}: " + (policy.linesep + " ").join(encoded) + policy.linesep


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def _domain(domain: str) -> str:
    if not isinstance(domain, str) or not _DOMAIN.match(domain):
        raise ValueError(f"not a mail domain: {domain!r}")
    return domain


def _part(value: str) -> str:
    text = str(value)
    if not text or not re.fullmatch(r"[A-Za-z0-9._-]+", text):
        raise ValueError(f"not usable in an address: {value!r}")
    return text
