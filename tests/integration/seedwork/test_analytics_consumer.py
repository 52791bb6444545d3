"""The plain-pika example consumer: history first, then live, no gap, no duplicate."""
import json
import re
import sys
import threading
import time

from seedwork.bus import event_message
from seedwork.envelope import NewEvent
from tests.support.bus import read_all_settled
from tests.support.servers import ROOT


def positions_in(path):
    if not path.exists():
        return []
    return [int(json.loads(line)["position"]) for line in path.read_text().splitlines() if line.strip()]


def wait_for_count(path, count, timeout=30.0):
    deadline = time.monotonic() + timeout
    while len(positions_in(path)) < count:
        assert time.monotonic() < deadline, f"{len(positions_in(path))} of {count} events arrived"
        time.sleep(0.05)
    time.sleep(0.5)  # anything extra (a duplicate) would arrive now
    return positions_in(path)


def test_catches_up_from_history_then_follows_live_without_gap_or_duplicate(store, bus, processes, tmp_path):
    output, state = tmp_path / "events.jsonl", tmp_path / "state.json"
    queue = f"{bus.prefix}.analytics"
    bus.track(queue)
    consumer_args = [sys.executable, str(ROOT / "examples" / "analytics_consumer.py"), "--queue", queue,
                     "--services", "probe", "--state", str(state), "--output", str(output)]
    processes.relay()

    # History: published before the consumer exists (to nobody; kept in the log).
    for i in range(30):
        store.append(f"order-{i % 4}", -1, [NewEvent("probe.work", {"i": i})])

    # Live: appended while the consumer binds, catches up and starts following.
    def keep_appending():
        for i in range(30, 60):
            store.append(f"order-{i % 4}", -1, [NewEvent("probe.work", {"i": i})])
            time.sleep(0.01)

    writer = threading.Thread(target=keep_appending)
    consumer = processes.start("analytics", consumer_args)
    writer.start()
    writer.join()
    consumer.wait_for_output("following the live stream")

    # A relay re-send after a crash: an old event arrives again.
    old = read_all_settled(store, 0, 5)[2]
    bus.connection.Producer(channel=bus.channel).publish(
        event_message(old, "probe").body, exchange=bus.exchange("probe"), routing_key=old.type,
        content_type="application/cloudevents+json", content_encoding="utf-8")

    expected = [e.position for e in read_all_settled(store, 0, 60)]
    assert len(expected) == 60
    assert wait_for_count(output, 60) == expected  # every event, once, in global order

    # Appended after the consumer finished catching up: only the live path can deliver these.
    for i in range(60, 70):
        store.append("order-live", -1, [NewEvent("probe.work", {"i": i})])
    expected = [e.position for e in read_all_settled(store, 0, 70)]
    assert wait_for_count(output, 70) == expected

    consumer.stop()
    skipped = re.search(r"(\d+) duplicate\(s\) skipped", consumer.output())
    assert skipped and int(skipped[1]) >= 1  # at least the re-sent one
    assert json.loads(state.read_text()) == {"probe": expected[-1]}

    # While it is down, more happens; restarted, it resumes where it stopped.
    for i in range(70, 75):
        store.append("order-9", -1, [NewEvent("probe.work", {"i": i})])
    processes.start("analytics", consumer_args).wait_for_output("following the live stream")
    expected = [e.position for e in read_all_settled(store, 0, 75)]
    assert wait_for_count(output, 75) == expected
