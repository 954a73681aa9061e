"""The headless Chromium helper: a clean page passes, and each thing it must catch is caught.

Script errors, failed loads and text drawn without a Japanese font are each shown on a page of their own, so
a helper that stopped seeing them fails here. Outside requests never leave the machine: they go to a proxy on
loopback, here one of the test's own that records them.
"""
import os
import re
import socket
import struct
import threading
from pathlib import Path

import pytest

from tests.chromium import Browser, BrowserError, chromium_path

JAPANESE = "デプロイのロールバック報告"
CHART = ('<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="320" height="120" role="img">'
         '<title>応答時間</title><polyline points="0,100 160,40 320,60" fill="none" stroke="#c33"/></svg>')
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_page(folder, name, body):
    path = folder / name
    path.write_text(f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{name}</title>'
                    f"<style>body {{ font-family: sans-serif; }}</style></head><body>{body}</body></html>",
                    encoding="utf-8")
    return path


def png_size(path):
    """(width, height) from a PNG's header, which is its first chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def live_processes_of_group(group):
    """The processes of a process group that still run. Zombies do not count: they have ended, and only wait
    for a reaper (which the init of some containers never is)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


class LoopbackProxy:
    """A proxy on 127.0.0.1 that records the request line of every request the browser sends it, and answers
    each with 502, or with ``hold=True`` never answers."""

    def __init__(self, hold=False):
        self.hold = hold
        self.requests = []
        self.connections = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while True:
            try:
                connection = self.listener.accept()[0]
            except OSError:
                return  # closed
            self.connections.append(connection)
            # A thread per connection: Chromium opens some ahead of time and sends nothing on them.
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, connection):
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
            if not self.hold:
                connection.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                connection.close()
        except OSError:
            return  # closed

    def close(self):
        # shutdown, unlike close, wakes a thread blocked in accept or recv on the socket.
        for open_socket in [self.listener, *self.connections]:
            try:
                open_socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed
            open_socket.close()
        for thread in self.threads:
            thread.join(timeout=10)
        assert not any(thread.is_alive() for thread in self.threads), "the test proxy did not stop"


@pytest.fixture(name="browser")
def started_browser(tmp_path):
    # Without Chromium this fails, saying that `make test` installs it: these tests are not to be skipped.
    with Browser(tmp_path) as started:
        yield started


@pytest.fixture(name="proxy")
def recording_proxy():
    recording = LoopbackProxy()
    yield recording
    recording.close()


def test_a_page_with_a_chart_and_japanese_text_opens_clean(browser, tmp_path):
    page = browser.open(write_page(tmp_path, "report.html", f'<h1 id="title">{JAPANESE}</h1>{CHART}'))

    assert page.console_errors == []
    assert page.evaluate("document.title") == "report.html"
    # The chart is there and laid out, not an empty box.
    assert page.evaluate("document.querySelectorAll('svg.chart').length") == 1
    assert page.evaluate("[...document.querySelectorAll('svg.chart polyline')].length") == 1
    assert page.evaluate("document.querySelector('svg.chart').getBoundingClientRect().width") == 320


def test_japanese_text_is_drawn_with_a_cjk_font(browser, tmp_path):
    page = browser.open(write_page(tmp_path, "report.html", f'<h1 id="title">{JAPANESE}</h1>'))

    fonts = page.fonts_of("#title")
    assert fonts, "Chromium reported no font for the Japanese title"
    # Debian's fonts-noto-cjk: Chromium names the family "Noto Sans CJK JP".
    assert all("CJK" in font["familyName"] for font in fonts), fonts
    assert sum(font["glyphCount"] for font in fonts) >= len(JAPANESE)
    assert not any(font["isCustomFont"] for font in fonts)


def test_text_no_font_covers_shows_as_a_font_that_is_not_cjk(browser, tmp_path):
    # Private-use characters: no installed font has them, so they are drawn as missing-glyph boxes in the
    # element's first font, as Japanese would be without a CJK font. (With lang="ja" and a generic family that
    # first font is the CJK one itself: the family name then tells nothing of missing glyphs.)
    page = browser.open(write_page(tmp_path, "boxes.html",
                                   '<p id="boxes" lang="en" style="font-family: serif">\ue000\ue001</p>'))

    fonts = page.fonts_of("#boxes")
    assert fonts and not any("CJK" in font["familyName"] for font in fonts), fonts


def test_fonts_of_an_element_that_is_not_there_is_an_error(browser, tmp_path):
    page = browser.open(write_page(tmp_path, "report.html", "<p>x</p>"))

    with pytest.raises(BrowserError, match="No element matches '#missing'"):
        page.fonts_of("#missing")


def test_a_script_that_throws_and_a_console_error_are_reported(browser, tmp_path):
    page = browser.open(write_page(tmp_path, "broken.html",
                                   '<p>x</p><script>throw new Error("x")</script><script>console.error("y")</script>'))

    assert len(page.console_errors) == 2, page.console_errors
    thrown, logged = page.console_errors
    assert thrown.startswith("exception: Error: x") and "broken.html" in thrown
    assert logged == "console.error: y"


def test_an_outside_image_fails_at_the_refusing_proxy(browser, tmp_path):
    page = browser.open(write_page(tmp_path, "outside.html", '<img src="http://example.invalid/x.png">'))

    # A proxy failure, not a name that did not resolve: the request never got further than loopback.
    assert page.console_errors == [
        "network: Failed to load resource: net::ERR_PROXY_CONNECTION_FAILED (http://example.invalid/x.png)"]


def test_every_request_goes_to_the_loopback_proxy_even_one_to_loopback(proxy, tmp_path):
    with Browser(tmp_path, proxy=proxy.address) as browser:
        page = browser.open(write_page(tmp_path, "outside.html",
                                       '<img src="http://example.invalid/x.png"><img src="http://127.0.0.1:8/y.png">'))

    # The browser's own calls home, which the flags do not all stop, come here too; these are the page's.
    page_requests = {"GET http://example.invalid/x.png HTTP/1.1", "GET http://127.0.0.1:8/y.png HTTP/1.1"}
    assert page_requests <= set(proxy.requests), proxy.requests
    # Both images load side by side: either may fail first.
    assert sorted(page.console_errors) == [
        f"network: Failed to load resource: the server responded with a status of 502 (Bad Gateway) ({url})"
        for url in ("http://127.0.0.1:8/y.png", "http://example.invalid/x.png")]


def test_a_load_that_never_ends_fails_with_the_wait_named(tmp_path):
    silent = LoopbackProxy(hold=True)
    try:
        with Browser(tmp_path, proxy=silent.address) as browser:
            path = write_page(tmp_path, "stuck.html", '<img src="http://example.invalid/x.png">')
            waited = re.escape(f"Waited 2 s for the load event of {path.as_uri()} in vain")
            with pytest.raises(BrowserError, match=waited):
                browser.open(path, timeout=2)
    finally:
        silent.close()
    assert "GET http://example.invalid/x.png HTTP/1.1" in silent.requests


def test_a_screenshot_is_a_png_of_the_whole_page(browser, tmp_path):
    tall = f'<div style="height: 3000px">{CHART}</div>'
    page = browser.open(write_page(tmp_path, "tall.html", tall))

    whole = page.screenshot(tmp_path / "whole.png")
    window = page.screenshot(tmp_path / "window.png", full_page=False)

    assert whole.stat().st_size > 0 and window.stat().st_size > 0
    whole_width, whole_height = png_size(whole)
    window_width, window_height = png_size(window)
    assert whole_height >= 3000 > window_height
    assert whole_width == window_width


def test_the_browser_ends_with_its_processes_and_leaves_no_folder(tmp_path):
    with Browser(tmp_path) as browser:
        browser.open(write_page(tmp_path, "report.html", "<p>x</p>"))
        group, folder, temporary = browser.process.pid, browser.folder, browser.temporary_folder
        assert folder.is_dir() and temporary.is_dir()

    assert live_processes_of_group(group) == []
    assert not folder.exists() and not temporary.exists()
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


def test_the_browser_gets_none_of_the_callers_tokens(monkeypatch, tmp_path):
    monkeypatch.setenv("VERCEL_TOKEN", "vercel-token-not-for-the-browser")
    with Browser(tmp_path) as browser:
        # The browser's own environment as the kernel holds it; the shell that started it exec'd into it.
        environment = Path(f"/proc/{browser.process.pid}/environ").read_bytes().split(b"\0")
        assert b"PATH=" + os.environ["PATH"].encode() in environment

    assert not any(b"vercel-token-not-for-the-browser" in variable for variable in environment)
    assert not any(variable.startswith(b"VERCEL_TOKEN=") for variable in environment)


def test_without_chromium_the_error_says_make_test_installs_it(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert chromium_path() is None
    with pytest.raises(BrowserError, match="run `make test`, which installs it"):
        Browser(tmp_path)

    monkeypatch.setenv("CHROMIUM", str(tmp_path / "chromium"))
    not_executable = re.escape(f"CHROMIUM={tmp_path}/chromium is not an executable.")
    with pytest.raises(BrowserError, match=not_executable + ".*`make test`"):
        Browser(tmp_path)
