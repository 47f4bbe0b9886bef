"""One headless Chromium for a test session, driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages ending in a NUL byte, on the browser's file
descriptors 3 and 4; no port, no extra package).

Starting Chromium takes a second or two of a 2-core machine; a page in a running browser
takes a fraction of that. Each page opens in a new window of its own size (what
``--window-size`` gives a one-page run), with its own DevTools session, and is closed after:

    with Chromium(binary, folder) as browser:
        with browser.open(url, width=1024, height=900, scrollbars=True) as tab:
            tab.evaluate("document.title")

``open`` lets the page run as ``--virtual-time-budget=2000`` does (2 s of the page's timers,
network fetches waited for, in virtual time) and keeps what the page logged: script errors,
CSP violations and failed loads (what ``--enable-logging=stderr`` would show as console
lines), as one line each in ``tab.logs``.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--enable-logging=stderr", "--v=0")
TIMEOUT = 180.0           # seconds for any one answer (a one-page run had as long)
VIRTUAL_TIME_BUDGET = 2000


CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_binary() -> str | None:
    """``VULNPIPE_CHROMIUM``, else Debian's /usr/bin/chromium, else one on the PATH."""
    explicit = os.environ.get("VULNPIPE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


class ChromiumError(RuntimeError):
    pass


class Tab:
    """One open page: ``evaluate`` JavaScript in it, ``screenshot`` it, read ``logs``."""

    def __init__(self, browser: "Chromium", session: str) -> None:
        self._browser = browser
        self.session = session
        self.logs: list[str] = []

    def send(self, method: str, params: dict | None = None) -> dict:
        return self._browser.send(method, params, session=self.session)

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise ChromiumError(f"{expression!r}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self) -> bytes:
        """The window as a PNG (what ``--screenshot`` writes)."""
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])


def _log_line(event: dict) -> str | None:
    """A console line for a DevTools event that reports something the page did."""
    line = _log_text(event)
    return None if line is None else " ".join(line.split())


def _log_text(event: dict) -> str | None:
    p = event["params"]
    if event["method"] == "Log.entryAdded":
        e = p["entry"]
        return f"{e.get('level', '')}: {e.get('text', '')} ({e.get('url', '')})"
    if event["method"] == "Runtime.exceptionThrown":
        d = p["exceptionDetails"]
        thrown = (d.get("exception") or {}).get("description", "")
        return f"error: {d.get('text', '')} {thrown} ({d.get('url', '')}:{d.get('lineNumber', '')})"
    if event["method"] == "Runtime.consoleAPICalled":
        args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
        return f"console.{p.get('type', '')}: {args}"
    return None


class Chromium:
    """A running headless Chromium (see the module docstring)."""

    def __init__(self, binary: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()
        # the browser reads fd 3 and writes fd 4: the pipe ends are moved there in bash
        # (numbers >= 10, so the moves cannot overwrite each other)
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]
        os.close(to_browser)
        os.close(from_browser)
        self.stderr = folder / "chromium.log"
        with open(self.stderr, "wb") as log:
            self._process = subprocess.Popen(
                ["bash", "-c", f'exec "$@" 3<&{ends[0]} 4>&{ends[1]} {ends[0]}<&- {ends[1]}>&-',
                 "chromium", binary, *FLAGS, f"--user-data-dir={folder / 'profile'}",
                 "--remote-debugging-pipe", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=ends)
        for fd in ends:
            os.close(fd)
        self._buffer = b""
        self._id = 0
        self._events: list[dict] = []
        self._open: set[str] = set()       # sessions of open pages

    # -- the protocol ----------------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, *, session: str | None = None) -> dict:
        self._id += 1
        message: dict = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._writer, data):]
        while True:
            answer = self._receive()
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})

    def _receive(self) -> dict:
        """The next message; events of open pages are kept for :meth:`_wait`."""
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._reader], [], [], left)[0]:
                raise ChromiumError(f"no answer from Chromium in {TIMEOUT:.0f} s "
                                    f"(its log: {self.stderr})")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise ChromiumError(f"Chromium ended (exit {self._process.poll()}; its log: "
                                    f"{self.stderr}): {self.stderr.read_text(errors='replace')[-2000:]}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message and message.get("sessionId") in self._open:
            self._events.append(message)
        return message

    def _wait(self, session: str, method: str) -> dict:
        while True:
            for i, event in enumerate(self._events):
                if event["sessionId"] == session and event["method"] == method:
                    return self._events.pop(i)
            self._receive()

    # -- pages -----------------------------------------------------------------------------------
    @contextmanager
    def open(self, url: str, *, width: int, height: int, scrollbars: bool) -> Iterator[Tab]:
        """``url`` loaded in a new ``width`` x ``height`` window, classic scrollbars shown or
        hidden (``--hide-scrollbars``), after the page ran (see the module docstring)."""
        target = self.send("Target.createTarget", {"url": "about:blank", "newWindow": True,
                                                   "width": width, "height": height})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, session)
        self._open.add(session)
        try:
            for domain in ("Page", "Runtime", "Log"):
                tab.send(f"{domain}.enable")
            tab.send("Emulation.setScrollbarsHidden", {"hidden": not scrollbars})
            tab.send("Emulation.setVirtualTimePolicy", {"policy": "pause"})
            tab.send("Page.navigate", {"url": url})
            tab.send("Emulation.setVirtualTimePolicy", {"policy": "pauseIfNetworkFetchesPending",
                                                        "budget": VIRTUAL_TIME_BUDGET})
            self._wait(session, "Emulation.virtualTimeBudgetExpired")
            if tab.evaluate("document.readyState") != "complete":
                self._wait(session, "Page.loadEventFired")
            yield tab
        finally:
            tab.logs.extend(line for e in self._events if e["sessionId"] == session
                            for line in [_log_line(e)] if line is not None)
            self._events = [e for e in self._events if e["sessionId"] != session]
            self._open.discard(session)
            self.send("Target.closeTarget", {"targetId": target})

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except ChromiumError:
            pass
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._writer)
        os.close(self._reader)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
