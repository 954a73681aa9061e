"""Headless Chromium for the tests that open a report page: its console errors, its fonts and a screenshot.

The browser is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``): it reads
commands from its fd 3 and writes answers and events to its fd 4, each message a JSON text ended by a NUL
byte. No port is opened, so nothing else on the machine can talk to it.

It must reach no host at all. Every request goes to a proxy on a loopback port that refuses connections
(a socket bound there and never listening), loopback included, so a page that tries to load anything shows
a failed load in its console instead of reaching out, and no name is looked up. The browser's own
background traffic is switched off as far as flags allow; what is left (Chromium still asks Google for
component updates and accounts) ends at the same refusing proxy.

The browser gets no variable of the caller's environment beyond PATH (no tokens), and writes only in its own
folder (profile, home, caches, log) and in a short temporary folder; both are removed with the browser,
whose process group is ended. Every wait is bounded and its error names what it waited for.

    with Browser(tmp_path) as browser:
        page = browser.open(tmp_path / "report.html")
        assert page.console_errors == []
        page.screenshot(tmp_path / "report.png")
"""
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

TIMEOUT = 30
NAMES = ("chromium", "chromium-browser", "google-chrome")
NOT_INSTALLED = ("Chromium is not installed: run `make test`, which installs it (Debian's chromium and "
                 "fonts-noto-cjk), or point the CHROMIUM environment variable at a Chromium binary.")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=NetworkTimeServiceQuerying,Translate,MediaRouter,OptimizationHints",
    "--metrics-recording-only",
    "--no-pings",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    # The same pixels on every machine, whatever its screen.
    "--force-device-scale-factor=1",
    "--window-size=1280,800",
    # "<-loopback>" takes away the bypass Chromium gives loopback by default: even 127.0.0.1 goes to the proxy.
    "--proxy-bypass-list=<-loopback>",
    # No name is looked up either, should anything get past the proxy (the rules cover IP literals too, so the
    # proxy's own address is left out of them).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-pipe",
]
# The fds Chromium talks on with --remote-debugging-pipe: it reads commands from 3, writes to 4.
COMMANDS_FD, ANSWERS_FD = 3, 4


def chromium_path():
    """The Chromium to run: the CHROMIUM environment variable, else chromium, chromium-browser or google-chrome
    on PATH; None when there is none."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """Chromium did not start, ended early, answered a command with an error or did not answer in time."""


class Browser:
    """A headless Chromium of its own, started on entering the ``with`` block and ended on leaving it."""

    def __init__(self, folder=None, timeout=TIMEOUT, proxy=None):
        """``folder``: where the browser's own folder goes (pytest's tmp_path; else the system's temporary
        folder). ``timeout``: the bound of every wait, in seconds. ``proxy``: host:port of a proxy on
        loopback that gets every request instead of the refusing one (for a test that wants to see them)."""
        self.executable = chromium_path()
        if not self.executable:
            named = os.environ.get("CHROMIUM")
            raise BrowserError(f"CHROMIUM={named} is not an executable. {NOT_INSTALLED}" if named else NOT_INSTALLED)
        self.parent_folder = folder
        self.timeout = timeout
        self.proxy = proxy
        self.folder = None
        self.temporary_folder = None
        self.process = None
        self.refusing_socket = None
        self.commands = None
        self.answers = None
        self.unread = b""
        self.last_id = 0
        self.pages = {}

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ----- start and stop ------------------------------------------------------------------------------

    def _start(self):
        self.folder = Path(tempfile.mkdtemp(prefix="runbook-chromium-", dir=self.parent_folder))
        for name in ("profile", "home"):
            (self.folder / name).mkdir()
        # Chromium's temporary files include a Unix socket, whose path may be 107 bytes at most; below pytest's
        # tmp_path it would be longer, so they go to a short folder of their own in the system's one.
        self.temporary_folder = Path(tempfile.mkdtemp(prefix="chromium-"))
        if self.proxy is None:
            self.refusing_socket = socket.socket()
            self.refusing_socket.bind(("127.0.0.1", 0))
            self.proxy = "127.0.0.1:%d" % self.refusing_socket.getsockname()[1]
        flags = FLAGS + [f"--user-data-dir={self.folder / 'profile'}", f"--proxy-server={self.proxy}",
                         "about:blank"]

        # Chromium's ends of the pipes get numbers from 10 up, so that the shell that starts it can move them to
        # 3 and 4 without one overwriting the other: subprocess keeps fd numbers, it cannot move them. The
        # shell is bash, as dash takes one-digit fd numbers only.
        commands_read, self.commands = os.pipe()
        self.answers, answers_write = os.pipe()
        child_ends = [copy_above(commands_read, 10), copy_above(answers_write, 10)]
        os.close(commands_read)
        os.close(answers_write)
        child_read, child_write = child_ends
        script = (f'exec "$0" "$@" {COMMANDS_FD}<&{child_read} {ANSWERS_FD}>&{child_write} '
                  f"{child_read}<&- {child_write}>&-")

        # Its home and caches are in its folder too, so it writes nowhere else. Nothing else of the caller's
        # environment is passed on: the tests' tokens have no business in a browser, nor has a DISPLAY.
        home = self.folder / "home"
        environment = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "HOME": str(home),
                       "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
                       "TMPDIR": str(self.temporary_folder)}
        with open(self.folder / "chromium.log", "wb") as log:
            try:
                # A session of its own: on the way out its whole process group (renderers, zygote) is ended.
                self.process = subprocess.Popen(["/bin/bash", "-c", script, self.executable, *flags],
                                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                pass_fds=child_ends, env=environment, start_new_session=True)
            finally:
                for fd in child_ends:
                    os.close(fd)
        self.send("Browser.getVersion", waiting_for="Chromium to start")

    def close(self):
        """End the browser, kindly first and then for good, and remove its folder; safe to call twice."""
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close", timeout=5, waiting_for="Chromium to close")
                except BrowserError:
                    pass  # it is ended below either way
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            # The group goes too: a renderer or helper left behind would hold the folder and a CPU.
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
            self.process = None
        for fd in (self.commands, self.answers):
            if fd is not None:
                os.close(fd)
        self.commands = self.answers = None
        if self.refusing_socket is not None:
            self.refusing_socket.close()
            self.refusing_socket = None
        for folder in (self.folder, self.temporary_folder):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        self.folder = self.temporary_folder = None

    # ----- pages -----------------------------------------------------------------------------------------

    def open(self, path, timeout=None):
        """A new tab showing the file at ``path``, returned once its load event has fired (within ``timeout``
        seconds, the browser's bound by default)."""
        url = Path(path).resolve().as_uri()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        self.pages[session] = page
        for domain in ("Runtime", "Log", "Page", "DOM", "CSS"):
            page.send(f"{domain}.enable")

        # Counted before navigating: the load event may come in before the answer to Page.navigate.
        before = len(page.events)
        navigated = page.send("Page.navigate", {"url": url})
        if navigated.get("errorText"):
            raise BrowserError(f"Chromium could not open {url}: {navigated['errorText']}")
        self.wait_for(page, "Page.loadEventFired", before, f"the load event of {url}", timeout)
        return page

    # ----- the protocol ----------------------------------------------------------------------------------

    def send(self, method, params=None, session=None, timeout=None, waiting_for=None):
        """Send one command and return its result; events that arrive meanwhile go to their page."""
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self.commands, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise BrowserError(f"Chromium ended before {method} could be sent.{self._log_tail()}") from None
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline, waiting_for or f"the answer to {method}", timeout)
            if answer.get("id") == self.last_id:
                if "error" in answer:
                    raise BrowserError(f"Chromium refused {method}: {answer['error'].get('message')}")
                return answer.get("result", {})

    def wait_for(self, page, event, seen, waiting_for, timeout=None):
        """Wait until ``page`` receives ``event`` after the first ``seen`` of its events; return its parameters."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        while True:
            for method, params in page.events[seen:]:
                if method == event:
                    return params
            seen = len(page.events)
            self._receive(deadline, waiting_for, timeout)

    def _receive(self, deadline, waiting_for, timeout):
        """The next message from Chromium, an event handed to its page on the way."""
        while b"\0" not in self.unread:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.answers], [], [], left)[0]:
                raise BrowserError(f"Waited {timeout} s for {waiting_for} in vain.{self._log_tail()}")
            chunk = os.read(self.answers, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium ended while waiting for {waiting_for}.{self._log_tail()}")
            self.unread += chunk
        text, self.unread = self.unread.split(b"\0", 1)
        message = json.loads(text)
        if "method" in message and message.get("sessionId") in self.pages:
            self.pages[message["sessionId"]].receive(message["method"], message.get("params", {}))
        return message

    def _log_tail(self):
        log = self.folder / "chromium.log" if self.folder else None
        if not log or not log.exists():
            return ""
        return "\nChromium's last words:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])


class Page:
    """One tab of the browser and what its console said since it opened."""

    def __init__(self, browser, target, session):
        self.browser = browser
        self.target = target
        self.session = session
        self.events = []
        self.console_errors = []

    def send(self, method, params=None):
        return self.browser.send(method, params, session=self.session)

    def receive(self, method, params):
        self.events.append((method, params))
        error = console_error(method, params)
        if error:
            self.console_errors.append(error)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-like values only)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {describe_exception(result['exceptionDetails'])}")
        return result["result"].get("value")

    def screenshot(self, path, full_page=True):
        """Write a PNG of the page to ``path``: the whole page, or with ``full_page=False`` what the window shows."""
        params = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = self.send("Page.captureScreenshot", params)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def fonts_of(self, selector):
        """The fonts the text of the first element matching ``selector`` is drawn with: familyName,
        postScriptName, glyphCount and isCustomFont for each (CSS.getPlatformFontsForNode).

        A character the element's fonts lack is drawn by a system font that has it; one that no font has is
        drawn as a missing-glyph box in the element's first font, and counted for that font. So Japanese
        text reported in a CJK family was drawn by a font made for it, unless that CJK font is the element's
        first one (lang="ja" with a generic family makes it so), when the name alone proves nothing."""
        document = self.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = self.send("DOM.querySelector", {"nodeId": document, "selector": selector})["nodeId"]
        if not node:
            raise BrowserError(f"No element matches {selector!r}.")
        return self.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]

    def close(self):
        self.browser.send("Target.closeTarget", {"targetId": self.target})
        self.browser.pages.pop(self.session, None)


def console_error(method, params):
    """The line to report when an event is an error in the page's console, else None."""
    if method == "Runtime.exceptionThrown":
        return "exception: " + describe_exception(params["exceptionDetails"])
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return "console.error: " + " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        entry = params["entry"]
        where = f" ({entry['url']})" if entry.get("url") else ""
        return f"{entry.get('source', 'log')}: {entry.get('text', '')}{where}"
    return None


def describe_exception(details):
    thrown = details.get("exception", {}).get("description") or details.get("text", "")
    return f"{thrown} (at {details.get('url', '?')}:{details.get('lineNumber', 0) + 1})"


def copy_above(fd, lowest):
    """A copy of ``fd`` numbered ``lowest`` or more, inheritable by a child that is told its number."""
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.set_inheritable(copy, True)
    return copy
