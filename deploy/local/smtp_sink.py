"""The development mail server: a real SMTP server that keeps what it receives.

When ``SMTP_HOST`` is unset, ``make run`` starts it (``deploy/local/services.sh``)
on 127.0.0.1:``SMTP_SINK_PORT`` (2525), and the notifications service sends its
email there. Nothing leaves the machine: each message is written, exactly as it
arrived, to ``var/mail/<utc timestamp>-<n>.eml`` (``SMTP_SINK_DIR``), and one
JSON line per message is appended to ``var/mail/index.jsonl``
(``n, at, from, to, subject, message_id, size, file``; ``from`` and ``to`` are
the SMTP envelope's sender and recipients).

    python -m deploy.local.smtp_sink serve [--port P] [--dir D]   # foreground
    python -m deploy.local.smtp_sink list [--last N]               # the latest messages
    python -m deploy.local.smtp_sink show N|MESSAGE-ID [--html|--raw]

``list`` and ``show`` need only the standard library. Tests and the bench run
one in-process and can stop and restart it on the same port::

    sink = SmtpSink(port=0, directory=tmp_path).start()   # sink.port: the port it got
    ...
    sink.wait_for(lambda m: m["To"] == "noura@example.sa")
    sink.stop(); sink.start()                             # the same port again
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
DEFAULT_PORT = 2525
INDEX = "index.jsonl"


def default_directory() -> Path:
    return Path(os.environ.get("SMTP_SINK_DIR") or ROOT / "var" / "mail")


def default_port() -> int:
    return int(os.environ.get("SMTP_SINK_PORT") or DEFAULT_PORT)


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name) or "").strip()
    except Exception:  # a header the parser cannot decode: keep what is there
        return str(message.get_all(name, [""])[0]).strip()


@dataclass
class Received:
    """One message as the sink got it: its index record and its bytes."""

    record: dict
    raw: bytes
    _message: EmailMessage | None = field(default=None, repr=False)

    @property
    def message(self) -> EmailMessage:
        if self._message is None:
            self._message = parse(self.raw)
        return self._message

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.record["at"].replace("Z", "+00:00"))


class Mailbox:
    """The folder of ``.eml`` files and their index; one writer per process."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.index = self.directory / INDEX
        self._lock = threading.Lock()
        self._n = max((r["n"] for r in self.records()), default=0)

    def records(self) -> list[dict]:
        try:
            lines = self.index.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:  # a line cut short by a crash: the next ones still count
                continue
        return records

    def store(self, raw: bytes, mail_from: str, rcpt_tos: Iterable[str]) -> dict:
        """Write the message (atomically: readers never see half of it), then index it."""
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        with self._lock:
            self._n += 1
            n = self._n
            at = datetime.now(timezone.utc)
            record = {
                "n": n,
                "at": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "from": mail_from,
                "to": list(rcpt_tos),
                "subject": _header(headers, "Subject"),
                "message_id": _header(headers, "Message-ID"),
                "size": len(raw),
                "file": f"{at:%Y%m%dT%H%M%S%f}Z-{n}.eml",
            }
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                final = self.directory / record["file"]
                partial = final.with_name(f".{final.name}.part")
                partial.write_bytes(raw)
                os.replace(partial, final)
                line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
                fd = os.open(self.index, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line)  # one append: concurrent readers see whole lines
                finally:
                    os.close(fd)
        return record

    def find(self, key: str) -> dict | None:
        """A record by its number or its Message-ID (with or without <>)."""
        records = self.records()
        if key.isdigit():
            return next((r for r in records if r["n"] == int(key)), None)
        wanted = key.strip().strip("<>")
        return next((r for r in records if r["message_id"].strip("<>") == wanted), None)

    def load(self, record: dict) -> bytes:
        return (self.directory / record["file"]).read_bytes()


class _MemoryBox(Mailbox):
    """Numbers messages like a Mailbox but writes nothing (``directory=None``)."""

    def __init__(self):
        self.directory = None
        self._lock = threading.Lock()
        self._n = 0

    def records(self) -> list[dict]:
        return []


class _Handler:
    """aiosmtpd's handler: accept every message, store it, tell the sink."""

    def __init__(self, box: Mailbox, received: Callable[[Received], None]):
        self.box, self.received = box, received

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        try:
            record = self.box.store(raw, envelope.mail_from, envelope.rcpt_tos)
        except Exception as exc:  # the sender keeps the message and tries again
            print(f"could not store a message: {exc!r}", file=sys.stderr, flush=True)
            return "451 Requested action aborted: local error in processing"
        self.received(Received(record, raw))
        return "250 Message accepted for delivery"


def _controller(handler: _Handler, sock: socket.socket):
    """An aiosmtpd Controller serving on an already bound socket (so port 0 works)."""
    from aiosmtpd.controller import Controller

    class BoundController(Controller):
        def _create_server(self):
            return self.loop.create_server(self._factory_invoker, sock=sock)

        def factory(self):
            smtp = super().factory()
            opened = smtp.connection_made

            def connection_made(transport):
                # The EHLO answer is several writes: with Nagle's algorithm on, all
                # but the first wait for the client's delayed ACK (40 ms a session).
                connection = transport.get_extra_info("socket")
                if connection is not None:
                    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                opened(transport)

            smtp.connection_made = connection_made
            return smtp

    host, port = sock.getsockname()[:2]
    # server_hostname: the greeting's name; without it aiosmtpd asks DNS for our FQDN.
    return BoundController(handler, hostname=host, port=port, server_hostname="smtp-sink.local")


class SmtpSink:
    """A real SMTP server in this process, for tests, the bench and ``serve``.

    ``port=0`` takes a free port at the first start; later starts reuse it, so a
    test can stop the server (senders see connections refused) and bring it back
    where the service expects it. ``directory=None`` keeps messages in memory only.
    """

    def __init__(self, port: int = 0, directory: str | Path | None = None, *, host: str = HOST,
                 keep: bool = True, on_message: Callable[[Received], None] | None = None):
        self.host, self.port = host, port
        self.box = Mailbox(directory) if directory is not None else _MemoryBox()
        self.keep, self.on_message = keep, on_message
        self._received: list[Received] = []
        self._changed = threading.Condition()
        self._controller = None

    @property
    def directory(self) -> Path | None:
        return self.box.directory

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> "SmtpSink":
        if self._controller is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Connections from the previous run linger in TIME_WAIT: without this
            # a restart on the same port fails with "address already in use".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        controller = _controller(_Handler(self.box, self._arrived), sock)
        try:
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the listening socket and every open session."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _arrived(self, received: Received) -> None:
        if self.on_message is not None:
            self.on_message(received)
        with self._changed:
            if self.keep:
                self._received.append(received)
            self._changed.notify_all()

    def received(self) -> list[Received]:
        """What this sink got since it was made (or cleared), in order of arrival."""
        with self._changed:
            return list(self._received)

    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received()]

    def clear(self) -> None:
        with self._changed:
            self._received.clear()

    def wait_for(self, predicate: Callable[[EmailMessage], bool] | None = None,
                 timeout: float = 10.0, count: int = 1) -> list[EmailMessage]:
        """The messages matching ``predicate`` once there are at least ``count``.

        Raises TimeoutError naming what did arrive when they do not in time.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [r.message for r in self._received if predicate is None or predicate(r.message)]
                if len(matching) >= count:
                    return matching
                left = deadline - time.monotonic()
                if left <= 0:
                    got = "; ".join(f"{r.record['to']} {r.record['subject']!r}" for r in self._received[-10:])
                    raise TimeoutError(
                        f"{len(matching)} of {count} matching message(s) after {timeout} s; "
                        f"{len(self._received)} received{': ' + got if got else ''}")
                self._changed.wait(left)


# --- command line -------------------------------------------------------------------


def serve(port: int, directory: Path) -> int:
    def logged(received: Received) -> None:
        r = received.record
        print(f"#{r['n']} {r['from']} -> {', '.join(r['to'])}: {r['subject']} ({r['size']} bytes)", flush=True)

    sink = SmtpSink(port, directory, keep=False, on_message=logged)
    try:
        sink.start()
    except OSError as exc:
        print(f"cannot listen on {HOST}:{port}: {exc.strerror or exc} "
              f"(another sink? see `make status`; or set SMTP_SINK_PORT)", file=sys.stderr)
        return 1
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"SMTP sink listening on {HOST}:{sink.port}; messages in {directory}", flush=True)
    done.wait()
    sink.stop()
    print("SMTP sink stopped", flush=True)
    return 0


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def list_messages(directory: Path, last: int, out=sys.stdout) -> int:
    records = Mailbox(directory).records()
    if not records:
        print(f"no mail in {directory} yet", file=out)
        return 0
    shown = records[-last:] if last > 0 else records
    rows = [("n", "at (UTC)", "from", "to", "subject")]
    for r in shown:
        at = r["at"][:19].replace("T", " ")
        rows.append((str(r["n"]), at, _cell(r["from"], 32), _cell(", ".join(r["to"]), 40), r["subject"]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4], file=out)
    if len(shown) < len(records):
        print(f"({len(shown)} of {len(records)}; --last 0 for all)", file=out)
    return 0


SHOWN_HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References")


def show_message(directory: Path, key: str, part: str = "plain", out=sys.stdout) -> int:
    box = Mailbox(directory)
    record = box.find(key)
    if record is None:
        print(f"no message {key!r} in {directory} (see: python -m deploy.local.smtp_sink list)", file=sys.stderr)
        return 1
    raw = box.load(record)
    if part == "raw":
        print(raw.decode("utf-8", errors="replace"), file=out)
        return 0
    message = parse(raw)
    print(f"#{record['n']}  received {record['at']}  {record['size']} bytes  ({directory / record['file']})", file=out)
    print(f"Envelope: {record['from']} -> {', '.join(record['to'])}", file=out)
    for name in SHOWN_HEADERS:
        if message.get(name) is not None:
            print(f"{name}: {_header(message, name)}", file=out)
    print(file=out)
    body = message.get_body(preferencelist=(part,))
    if body is None:
        other = "--html" if part == "plain" else "the text part (without --html)"
        print(f"(no text/{part} part; try {other} or --raw)", file=out)
        return 0
    print(body.get_content().rstrip("\n"), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.smtp_sink", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    folder = argparse.ArgumentParser(add_help=False)
    folder.add_argument("--dir", type=Path, default=None,
                        help="where messages are kept (default: SMTP_SINK_DIR or var/mail)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", parents=[folder], help="run the SMTP server in the foreground")
    serve_cmd.add_argument("--port", type=int, default=None, help="default: SMTP_SINK_PORT or 2525")
    list_cmd = commands.add_parser("list", parents=[folder], help="the latest messages, oldest first")
    list_cmd.add_argument("--last", type=int, default=20, metavar="N", help="how many (0: all; default 20)")
    show_cmd = commands.add_parser("show", parents=[folder], help="one message's headers and text")
    show_cmd.add_argument("key", metavar="N|MESSAGE-ID")
    show_cmd.add_argument("--html", dest="part", action="store_const", const="html", default="plain",
                          help="the HTML part instead of the text")
    show_cmd.add_argument("--raw", dest="part", action="store_const", const="raw", help="the message as received")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(errors="replace")  # subjects in Arabic on a terminal that cannot show them
    directory = args.dir or default_directory()
    if args.command == "serve":
        return serve(default_port() if args.port is None else args.port, directory)
    if args.command == "list":
        return list_messages(directory, args.last)
    return show_message(directory, args.key, args.part)


if __name__ == "__main__":
    sys.exit(main())
