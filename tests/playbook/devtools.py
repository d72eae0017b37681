"""Headless Chromium driven through the DevTools protocol over a pipe: no port, no extra package.

Used by tests/playbook/test_report_browser.py (report.html searched and filtered as a person would) and by
tools/bench_report.py (how long report.html takes to open). Chromium is started with
``--remote-debugging-pipe``: it reads JSON commands, each ended by a NUL byte, on its fd 3 and answers on its fd 4
(https://chromedevtools.github.io/devtools-protocol/).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import subprocess
import tempfile
import time


class Browser:
    """Headless Chromium driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``)."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900, scripts: bool = True):
        self.profile = tempfile.TemporaryDirectory(prefix="backupready-chromium-")
        # Chromium reads commands on its fd 3 and answers on its fd 4. The child's pipe ends are first moved to
        # numbers of 10 and up, so that putting one at 3 cannot overwrite the other.
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        to_child, from_child = self._high(to_child), self._high(from_child)

        def child_fds():
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                   "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
                   f"--window-size={width},{height}", f"--user-data-dir={self.profile.name}",
                   "--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
            command, preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self._buffer, self._id, self.session = b"", 0, None
        target = self.call("Target.createTarget", {"url": "about:blank"}, page=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, page=False)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        if not scripts:
            self.call("Emulation.setScriptExecutionDisabled", {"value": True})

    @staticmethod
    def _high(fd: int) -> int:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return high

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, page: bool = True, timeout: float = 60) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if page:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:100]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, drawn: bool = True, timeout: float = 60) -> None:
        """Load ``url``; with ``drawn``, also wait for the page's script to draw its host list (it unpacks the
        hosts asynchronously, after the load event)."""
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        ready = "document.readyState === 'complete' && location.href !== 'about:blank'" + (
            " && document.documentElement.hasAttribute('data-drawn-ms')" if drawn else "")
        while not self.js(ready):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: not " + ("drawn" if drawn else "loaded"))
            time.sleep(0.05)

    def type_into(self, selector: str, value: str) -> None:
        """Set a search box or a select as a person would, with the input and change events it fires."""
        self.call("Runtime.evaluate", {"expression": f"document.querySelector({json.dumps(selector)}).focus()"})
        self.js(f"(function (e) {{ e.value = {json.dumps(value)}; e.dispatchEvent(new Event('input', {{bubbles: true}}));"
                f" e.dispatchEvent(new Event('change', {{bubbles: true}})); }})(document.querySelector({json.dumps(selector)}))")

    def click(self, selector: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).click()")

    def screenshot(self, path: str, height: int) -> None:
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
            "x": 0, "y": 0, "width": self.js("innerWidth"), "height": height, "scale": 1}})
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", page=False, timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)
        self.profile.cleanup()
