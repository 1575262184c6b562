"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no extra package.

Chromium reads JSON commands, each ended by a NUL byte, on its file descriptor 3 and answers on 4.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-pipe",
]


def find_chromium() -> str:
    """Chromium from Debian, installed with apt-get when missing (CI runs as root); else the test is skipped."""
    if shutil.which("chromium") is None:
        if os.geteuid() != 0:
            pytest.skip("chromium is missing; as root run: apt-get install -y chromium")
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "chromium"]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
    return shutil.which("chromium")


class BrowserError(AssertionError):
    """The browser answered with an error or did not answer in time."""


class Browser:
    """One Chromium and one page in it; evaluate() runs JS there and returns its value."""

    def __init__(self, chromium: str, profile: Path, width: int = 1366, height: int = 768) -> None:
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def on_descriptors_3_and_4() -> None:
            os.dup2(commands_read, 3)
            os.dup2(answers_write, 4)

        self.process = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # close_fds would close 3 and 4 again after preexec_fn; the collection's own descriptors are not
            # inheritable anyway (PEP 446)
            preexec_fn=on_descriptors_3_and_4, close_fds=False,
        )
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self.session = None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def close(self) -> None:
        deadline = time.monotonic() + 10
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close", session=False)
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        os.close(self._commands)
        os.close(self._answers)

    def send(self, method: str, session: bool = True, timeout: float = 60, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read(timeout)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_for_event(self, method: str, timeout: float = 60) -> dict:
        while True:
            answer = self._read(timeout)
            if answer.get("method") == method:
                return answer.get("params", {})

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise BrowserError(f"no answer from Chromium in {timeout} s")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str, timeout: float = 60) -> None:
        """Load url and wait for its load event."""
        self.send("Page.navigate", url=url)
        self.wait_for_event("Page.loadEventFired", timeout)

    def evaluate(self, expression: str, timeout: float = 60):
        """The value of a JS expression in the page; a promise is awaited."""
        answer = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True,
                           timeout=timeout)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression[:80]}...: {answer['exceptionDetails']}")
        return answer["result"].get("value")
