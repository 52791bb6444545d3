"""RabbitMQ helpers for the benchmarks: a raw pika publisher with a confirm
window (the relay's baseline), a consumer thread, the throwaway queues."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import amqp
import pika
from pika.spec import Basic


@dataclass(frozen=True)
class Outgoing:
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


def outgoing(message: amqp.Message, routing_key: str) -> Outgoing:
    """The same body and properties as the relay's message, for pika."""
    p = message.properties
    return Outgoing(routing_key, message.body, pika.BasicProperties(
        content_type=p.get("content_type"), content_encoding=p.get("content_encoding"),
        delivery_mode=p.get("delivery_mode"), message_id=p.get("message_id"), type=p.get("type"),
        timestamp=p.get("timestamp"), headers=p.get("application_headers"),
    ))


class _WindowPublisher:
    """pika's asynchronous SelectConnection: publish with ``mandatory``, keep at
    most ``window`` messages unconfirmed, stop when the broker confirmed all."""

    def __init__(self, uri: str, exchange: str, messages: list[Outgoing], window: int):
        self.exchange, self.messages, self.window = exchange, messages, window
        self.sent = 0
        self.confirmed_upto = 0  # every delivery tag <= this is confirmed
        self.singles: set[int] = set()  # confirmed one by one above confirmed_upto
        self.failures: list[str] = []
        self.started = self.finished = 0.0
        self.channel = None
        self.conn = pika.SelectConnection(
            pika.URLParameters(uri), on_open_callback=self._on_open,
            on_open_error_callback=self._on_error, on_close_callback=self._on_close,
        )

    def run(self) -> float:
        self.conn.ioloop.start()
        if self.failures:
            raise RuntimeError("; ".join(self.failures[:5]))
        if self.confirmed_upto != len(self.messages):
            raise RuntimeError(f"pika publisher stopped at {self.confirmed_upto}/{len(self.messages)} confirms")
        return self.finished - self.started

    def _on_open(self, conn):
        conn.channel(on_open_callback=self._on_channel)

    def _on_error(self, conn, exc):
        self.failures.append(f"connection failed: {exc!r}")
        conn.ioloop.stop()

    def _on_close(self, conn, reason):
        conn.ioloop.stop()

    def _on_channel(self, channel):
        self.channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=self._on_select_ok)

    def _on_select_ok(self, frame):
        self.started = time.perf_counter()
        self._pump()

    def _pump(self):
        total, ch, ex = len(self.messages), self.channel, self.exchange
        while self.sent < total and self.sent - self.confirmed_upto - len(self.singles) < self.window:
            m = self.messages[self.sent]
            ch.basic_publish(ex, m.routing_key, m.body, m.properties, mandatory=True)
            self.sent += 1

    def _on_return(self, channel, method, properties, body):
        self.failures.append(f"returned: {method.reply_text}")

    def _on_confirm(self, frame):
        method = frame.method
        if isinstance(method, Basic.Nack):
            self.failures.append(f"nacked {method.delivery_tag}")
        tag = method.delivery_tag
        if method.multiple:
            if tag > self.confirmed_upto:
                self.confirmed_upto = tag
                self.singles = {t for t in self.singles if t > tag}
        else:
            self.singles.add(tag)
        while self.confirmed_upto + 1 in self.singles:
            self.confirmed_upto += 1
            self.singles.discard(self.confirmed_upto)
        if self.confirmed_upto >= len(self.messages):
            self.finished = time.perf_counter()
            self.conn.close()
        else:
            self._pump()


def pika_publish(uri: str, exchange: str, messages: list[Outgoing], window: int = 100) -> float:
    """Seconds from confirm mode on to the last confirm (connection setup excluded)."""
    return _WindowPublisher(uri, exchange, messages, window).run()


class Consumer(threading.Thread):
    """Consumes a queue with pika, noting when each message id arrives."""

    def __init__(self, uri: str, queue: str):
        super().__init__(daemon=True, name="bench-consumer")
        self.uri, self.queue = uri, queue
        self.received: dict[str, float] = {}
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        try:
            conn = pika.BlockingConnection(pika.URLParameters(self.uri))
            try:
                ch = conn.channel()
                ch.basic_qos(prefetch_count=1000)
                received, clock = self.received, time.perf_counter

                def on_message(channel, method, properties, body):
                    received[properties.message_id] = clock()

                ch.basic_consume(self.queue, on_message, auto_ack=True)
                self.ready.set()
                while not self.stopping.is_set():
                    conn.process_data_events(time_limit=0.05)
            finally:
                conn.close()
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def stop(self):
        self.stopping.set()
        self.join(10)


def bind_queue(channel, queue: str, exchange: str) -> None:
    """A durable queue (like a consumer's) bound to every routing key of ``exchange``."""
    channel.queue_declare(queue, durable=True, auto_delete=False)
    channel.queue_bind(queue, exchange, routing_key="#")
