"""A tiny Chrome DevTools Protocol client for tests: the distribution's chromium, headless, driven over
--remote-debugging-pipe (stdlib only).

With that flag chromium reads commands from fd 3 and writes replies and events to fd 4, each message
one JSON object followed by a NUL byte. The client opens one page (Target.createTarget, then a flat
session from Target.attachToTarget), records console errors and every network request the page makes
other than its own file:// URL and data: URIs, and can evaluate script and take a screenshot.

    with Browser() as b:
        b.navigate(path.as_uri())
        b.evaluate("document.title")
        b.screenshot()  # PNG bytes
        assert not b.errors and not b.requests
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

NAMES = ("chromium", "chromium-browser")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         # no background network of the browser's own
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
         "--window-size=1280,900")


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError("expected chromium on PATH (for the browser tests), found none: `apt-get install chromium` is needed")


class Browser:
    def __init__(self, timeout: float = 20.0):
        chromium = find_chromium()
        self.timeout = timeout
        self.errors: list[str] = []     # console errors, uncaught exceptions, log entries of level error
        self.requests: list[str] = []   # URLs requested other than the page's own and data: URIs
        self.page_url = ""
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []
        self._profile = tempfile.mkdtemp(prefix="adrs-chromium-")
        self._log = open(os.path.join(self._profile, "chromium.log"), "wb")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser must see the pipes as fds 3 and 4: bash puts them there, then execs chromium.
        # Its ends are first moved to fds >= 10, so that moving them cannot overwrite one another.
        to_browser_r, from_browser_w = (self._high(fd) for fd in (to_browser_r, from_browser_w))
        shell = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        try:
            self._proc = subprocess.Popen(
                ["/bin/bash", "-c", shell, chromium, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                pass_fds=(to_browser_r, from_browser_w))
        except BaseException:
            self._cleanup()
            raise
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"}, session=None)["targetId"]
            self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                     session=None)["sessionId"]
            for domain in ("Page", "Runtime", "Network", "Log"):
                self.send(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _high(fd: int) -> int:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return high

    # --- the protocol
    def send(self, method: str, params: dict | None = None, session: str | None | bool = True) -> dict:
        """Send a command (to the page's session unless session=None) and return its result."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is True:
            session = self.session
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data):]
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline, f"a reply to {method}")
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})

    def _receive(self, deadline: float, waiting_for: str) -> dict:
        """The next message; events are recorded (and kept for wait_event) on the way."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError(f"timed out after {self.timeout} s waiting for {waiting_for}")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"chromium closed the pipe while we waited for {waiting_for}; "
                                   f"its log: {self.log_tail()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self._record(message)
            self._events.append(message)
        return message

    def _record(self, event: dict) -> None:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                            for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if url != self.page_url and not url.startswith("data:"):
                self.requests.append(url)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == self.session:
                    return self._events.pop(i)
            self._receive(deadline, method)

    # --- what tests use
    def navigate(self, url: str) -> None:
        """Open `url` and wait for its load event."""
        self.page_url = url
        self._events.clear()
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"could not open {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable; promises awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression[:80]!r} threw: "
                               f"{details.get('exception', {}).get('description', details.get('text'))}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        """A PNG of the whole page."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        return base64.b64decode(shot["data"])

    def log_tail(self, chars: int = 600) -> str:
        self._log.flush()
        with open(self._log.name, "rb") as f:
            return f.read()[-chars:].decode(errors="replace").strip()

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self.send("Browser.close", session=None)
            except (BrowserError, OSError):
                pass
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
