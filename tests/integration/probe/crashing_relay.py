"""``python -m tests.integration.probe.crashing_relay N``: the probe's relay
(``python -m seedwork relay probe``), except that it dies right after the
broker confirmed the first N messages of a batch, before the checkpoint moves:
a crash at the worst moment."""
import os
import sys

from seedwork import cli, relay
from seedwork.bus import ConfirmingPublisher

CRASH_AFTER = int(sys.argv[1])


class CrashingPublisher(ConfirmingPublisher):
    def publish(self, messages):
        super().publish(list(messages)[:CRASH_AFTER])
        print(f"crashing after {CRASH_AFTER} confirmed messages", flush=True)
        os._exit(70)


relay.ConfirmingPublisher = CrashingPublisher
sys.exit(cli.main(["relay", "probe"]))
