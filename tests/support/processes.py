"""Child processes for tests and the bench: one ``Process`` with its output
in a file, and ``Services``, the supervisor of ``python -m seedwork.launch
<service>`` processes that the end-to-end system, the integration tests of
one service and the bench all start the same way."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from .servers import ROOT


class Process:
    """A child in a session of its own (signals reach its children too),
    with its output in ``log_path``; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, args: list[str], env: dict, log_path: Path):
        self.name = log_path.stem
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> int | None:
        """Its exit code once it has ended; None while it runs."""
        return self.popen.poll()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.popen.poll() is not None:
                raise AssertionError(f"process exited ({self.popen.returncode}) before {text!r}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def send_signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.send_signal(sig)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        self.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._log.close()


class Services:
    """``python -m seedwork.launch SERVICE`` processes sharing one environment
    and one log folder (``<service>.<replica>.log``)."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = env
        self.log_dir = Path(log_dir)
        self.processes: dict[str, Process] = {}

    def start(self, service: str, replica: int = 1) -> Process:
        name = f"{service}.{replica}"
        self.processes[name] = process = Process(
            [sys.executable, "-m", "seedwork.launch", service], self.env, self.log_dir / f"{name}.log")
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.log_dir.glob("*.log")))

    def check_running(self) -> None:
        """Fails naming the first process that has exited, with every log."""
        for name, process in self.processes.items():
            if process.exited() is not None:
                raise RuntimeError(f"{name} exited with {process.exited()}:\n{self.logs()}")

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Until ``ready()`` (which may raise while servers start); fails with the logs."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            try:
                if ready():
                    return
            except OSError:  # requests' ConnectionError is one: not listening yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not within {timeout:g}s:\n{self.logs()}")
            time.sleep(0.3)

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.stop()
        self.processes.clear()
