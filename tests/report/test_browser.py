"""Open the report in real headless Chromium, the way a reader would.

Chromium is driven through the DevTools protocol: the test records console
errors, uncaught exceptions and every request the page makes, waits for each
<img> to decode, and reads the funnel numbers as rendered (``innerText``).
Install the browser with scripts/install_chromium.sh; without it the test skips.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from jinstruct.report import write_report
from tests.support.report import PARAMS, expected_funnel, make_build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install_chromium.sh)")
websocket = pytest.importorskip("websocket", reason="websocket-client is not installed (pip install -e '.[test]')")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-port=0"]

PAGE_FACTS = """
Promise.all([...document.images].map(img => img.decode().then(
    () => ({width: img.naturalWidth, height: img.naturalHeight}),
    () => ({width: 0, height: 0, broken: img.alt}))))
.then(images => JSON.stringify({
  images: images,
  cells: [...document.querySelectorAll('#funnel td[data-stage]')].map(td =>
      [td.dataset.stage, td.dataset.source || null, td.dataset.field, td.innerText]),
  title: document.title,
}))
"""


class DevTools:
    """The smallest DevTools-protocol client this test needs: commands and the events seen meanwhile."""

    def __init__(self, url: str) -> None:
        # Chromium refuses websocket clients that send an Origin header unless told otherwise.
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, event: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.events.append(json.loads(self.socket.recv()))


def _debugger_url(profile: Path, process: subprocess.Popen) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.is_file() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chromium did not start (exit {process.poll()})")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        targets = json.load(response)
    return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")


def open_in_chromium(page: Path, profile: Path) -> tuple[dict, list[dict]]:
    """Load ``page``; return the facts PAGE_FACTS reads and every DevTools event seen."""
    process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tools = DevTools(_debugger_url(profile, process))
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(f"{domain}.enable")
        tools.call("Page.navigate", url=page.resolve().as_uri())
        tools.wait_for("Page.loadEventFired")
        result = tools.call("Runtime.evaluate", expression=PAGE_FACTS, awaitPromise=True, returnByValue=True)
        facts = json.loads(result["result"]["value"])
        tools.call("Browser.close")
        return facts, tools.events
    finally:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_report_opens_cleanly_in_chromium(tmp_path):
    root = make_build(tmp_path / "build")
    summary = write_report(root, root / "reports/index.html", PARAMS)
    facts, events = open_in_chromium(root / "reports/index.html", tmp_path / "profile")

    errors = [e["params"] for e in events
              if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []
    requested = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    assert all(url.startswith(("file:", "data:")) for url in requested), requested

    assert len(facts["images"]) == summary.images == 10
    for shown in facts["images"]:
        assert shown["width"] > 0 and shown["height"] > 0, shown

    assert "jinstruct-テスト" in facts["title"]
    shown = {(stage, source, field): int(text.replace(",", "")) for stage, source, field, text in facts["cells"]}
    assert shown == expected_funnel(root)
