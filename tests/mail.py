"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and the config
and database helpers the email tests share."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import sqlite3
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

RECIPIENTS = ["ada@example.org", "grace@example.org"]


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes
        ]


def flat(text: str) -> str:
    """Text with its line breaks undone: the plain-text part wraps at 72 columns."""
    return " ".join(text.split())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp(controllers: list[Controller], port: int | None = None, **options) -> Inbox:
    """Start an aiosmtpd server on loopback (added to ``controllers``, to stop); its Inbox."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port(), **options)
    controller.start()
    controllers.append(controller)
    inbox.port = controller.port
    return inbox


def email_section(port: int, policy: str = "on-change", **extra) -> str:
    lines = [
        "[email]",
        "enabled = true",
        'smtp_host = "127.0.0.1"',
        f"smtp_port = {port}",
        'security = "none"',
        'sender = "monitor@example.org"',
        f"recipients = {json.dumps(RECIPIENTS)}",
        f'policy = "{policy}"',
        'report_url = "https://example.org/citations/"',
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def deliveries(tmp_path: Path) -> list[dict]:
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM email_deliveries ORDER BY id")]
    conn.close()
    return rows
