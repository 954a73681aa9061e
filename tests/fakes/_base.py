"""Shared machinery for the fake HTTP services used by the tests.

A fake server owns a JSON-like *state* (seeded at start), a *request log* and
a *fault queue*. Tests drive it either in-process (methods on the server) or
over HTTP through the control endpoints under ``/_fake/``, which are never
logged and never faulted so that driving the fake cannot disturb what it
records. Subclasses implement ``handle_request`` for the real API. Pass an
``ssl_context`` to serve HTTPS instead of plain HTTP.
"""
import copy
import json
import math
import re
import socket
import ssl
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

CONTROL_PREFIX = "/_fake/"
FAULT_ACTIONS = ("status", "reset", "delay", "malformed")
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
# A body that starts like JSON and stops in the middle: clients must not crash on it.
BROKEN_JSON = '{"broken": [1, 2, {"truncated": '


@dataclass
class Request:
    method: str
    path: str
    query: dict  # last value wins for repeated keys
    headers: object  # email.message.Message: case-insensitive .get()
    body: bytes
    query_lists: dict = field(default_factory=dict)  # every value of every key, in order: PagerDuty repeats keys

    def values(self, name):
        """All values of a query parameter that may repeat (``statuses[]=a&statuses[]=b``)."""
        return list(self.query_lists.get(name, []))

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self):
        """Parsed JSON body; raises ValueError when the body is not JSON."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int
    body: object = ""  # dict/list are sent as JSON, str as-is
    headers: dict = field(default_factory=dict)
    content_type: str = None  # None: chosen by the server from the body type; "": no Content-Type


def validate_fault(fault):
    """Return a normalised copy of one fault dict, or raise ValueError."""
    if not isinstance(fault, dict) or fault.get("action") not in FAULT_ACTIONS:
        raise ValueError(f"fault needs an action in {FAULT_ACTIONS}: {fault!r}")
    if fault["action"] == "status" and not isinstance(fault.get("status"), int):
        raise ValueError(f"a status fault needs an integer status: {fault!r}")
    fault = copy.deepcopy(fault)
    fault["times"] = int(fault.get("times", 1))
    if fault.get("path") is not None:
        re.compile(fault["path"])  # fail now rather than on the first request
    return fault


class RateWindow:
    """Counts requests in fixed windows of ``window`` seconds; ``take()`` spends one if any is left."""

    def __init__(self, limit, window):
        self.limit, self.window = int(limit), float(window)
        self.resets_at, self.used = 0.0, 0

    def _roll(self, now):
        if now >= self.resets_at:
            self.resets_at, self.used = now + self.window, 0

    def take(self, now=None):
        now = time.time() if now is None else now
        self._roll(now)
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def remaining(self, now=None):
        self._roll(time.time() if now is None else now)
        return max(0, self.limit - self.used)

    def reset_in(self, now=None):
        """Whole seconds until the window starts over (at least 1)."""
        now = time.time() if now is None else now
        self._roll(now)
        return max(1, math.ceil(self.resets_at - now))


class FakeHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive like the real services; every answer carries Content-Length.
    protocol_version = "HTTP/1.1"

    def setup(self):
        # Handshake here, in the request's own thread, so a client that never finishes one
        # cannot hold up the thread that accepts connections.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def do_GET(self):
        self.server.dispatch(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format, *args):
        pass  # the request log replaces stderr noise


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    json_content_type = JSON_TYPE
    text_content_type = TEXT_TYPE

    def __init__(self, seed, port=0, ssl_context=None):
        # Loopback only: the fakes must never be reachable from elsewhere.
        super().__init__(("127.0.0.1", port), FakeHandler)
        self.scheme = "http"
        if ssl_context is not None:  # HTTPS, for clients that refuse plain http:// base URLs
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
            self.scheme = "https"
        self.lock = threading.RLock()
        self._seed = copy.deepcopy(seed)
        self._state = copy.deepcopy(seed)
        self._faults = []
        self._log = []
        self._thread = None

    # ----- lifecycle -------------------------------------------------------
    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def handle_error(self, request, client_address):
        # A client that rejects our throwaway certificate (and hangs up) is a test outcome, not a fault.
        if self.scheme == "https" and isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            return
        super().handle_error(request, client_address)

    # ----- Python control API (same operations as /_fake/) ---------------
    def state(self):
        with self.lock:
            return copy.deepcopy(self._state)

    def load(self, seed):
        """Replace the current state; ``reset()`` still returns to the start seed."""
        with self.lock:
            self._state = copy.deepcopy(seed)

    def reset(self):
        with self.lock:
            self._state = copy.deepcopy(self._seed)
            self._faults.clear()
            self._log.clear()

    def add_faults(self, faults):
        checked = [validate_fault(f) for f in faults]
        with self.lock:
            self._faults.extend(checked)

    def faults(self):
        with self.lock:
            return copy.deepcopy(self._faults)

    def clear_faults(self):
        with self.lock:
            self._faults.clear()

    def requests(self):
        with self.lock:
            return copy.deepcopy(self._log)

    def clear_requests(self):
        with self.lock:
            self._log.clear()

    # ----- hooks for subclasses --------------------------------------------
    def handle_request(self, request):
        """Answer one API request; called with ``self.lock`` held."""
        raise NotImplementedError

    def common_headers(self, request):
        """Headers added to every API answer (faults included)."""
        return {}

    def default_fault_body(self, status):
        return ""

    def default_fault_headers(self, status):
        return {}

    def fault_response(self, fault, request):
        """The answer to a ``status`` fault; override when it depends on the request."""
        return Response(fault["status"], fault.get("body", self.default_fault_body(fault["status"])),
                        {**self.default_fault_headers(fault["status"]), **fault.get("headers", {})})

    def redact(self, entry):
        """Remove the secrets a request log entry may carry besides the Authorization header."""
        return entry

    def control_routes(self):
        """(method, path) -> function(request) returning the JSON answer.

        The mutators return None, so ``mutate() or answer`` runs both in order."""
        return {
            ("GET", "/_fake/state"): lambda r: self.state(),
            ("POST", "/_fake/state"): lambda r: self.load(r.json()) or self.state(),
            ("POST", "/_fake/reset"): lambda r: self.reset() or {"reset": True},
            ("GET", "/_fake/faults"): lambda r: {"faults": self.faults()},
            ("POST", "/_fake/faults"): lambda r: self.add_faults(r.json()["faults"]) or {"faults": self.faults()},
            ("DELETE", "/_fake/faults"): lambda r: self.clear_faults() or {"faults": []},
            ("GET", "/_fake/requests"): lambda r: {"requests": self.requests()},
            ("DELETE", "/_fake/requests"): lambda r: self.clear_requests() or {"requests": []},
        }

    # ----- request pipeline ------------------------------------------------
    def dispatch(self, handler):
        request = self._read_request(handler)
        if request.path.startswith(CONTROL_PREFIX):
            self._send(handler, self._control(request))
            return
        self._record(request)
        fault = self._take_fault(request)
        action = fault["action"] if fault else None
        if action == "reset":
            self._reset_connection(handler)
            return
        if action == "delay":
            time.sleep(float(fault.get("delay", 1)))  # outside the lock: other requests go on
        if action == "status":
            response = self.fault_response(fault, request)
        elif action == "malformed":
            response = Response(200, BROKEN_JSON, dict(fault.get("headers", {})), self.json_content_type)
        else:
            with self.lock:
                response = self.handle_request(request)
        response.headers = {**self.common_headers(request), **response.headers}
        self._send(handler, response)

    def _control(self, request):
        route = self.control_routes().get((request.method, request.path.rstrip("/")))
        if route is None:
            return Response(404, {"error": f"no control endpoint {request.method} {request.path}"})
        try:
            return Response(200, route(request))
        except (ValueError, KeyError, TypeError) as exc:
            return Response(400, {"error": f"bad control request: {exc}"})

    @staticmethod
    def _read_request(handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        url = urlsplit(handler.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        query_lists = {}
        for name, value in pairs:
            query_lists.setdefault(name, []).append(value)
        return Request(handler.command, url.path, dict(pairs), handler.headers, body, query_lists)

    def _record(self, request):
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        authorized = request.headers.get("Authorization") is not None
        if authorized:
            headers["Authorization"] = "<redacted>"  # never keep secrets in the log
        try:
            body = request.json() if request.body else None
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        entry = {"time": time.time(), "method": request.method, "path": request.path,
                 "query": request.query, "query_lists": request.query_lists, "headers": headers,
                 "authorized": authorized, "body": body}
        entry = self.redact(copy.deepcopy(entry))
        with self.lock:
            self._log.append(entry)

    def _take_fault(self, request):
        """Pop one use of the first fault matching this request, if any."""
        with self.lock:
            for fault in self._faults:
                if fault.get("method") not in (None, request.method):
                    continue
                if fault.get("path") is not None and not re.search(fault["path"], request.path):
                    continue
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self._faults.remove(fault)
                return copy.deepcopy(fault)
        return None

    @staticmethod
    def _reset_connection(handler):
        # SO_LINGER with a zero timeout makes close() send a TCP RST: the client
        # sees "connection reset by peer" and no HTTP answer at all.
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
        handler.connection.close()
        handler.rfile.close()  # the socket only really closes once its file wrapper is gone

    def _send(self, handler, response):
        body = response.body
        if isinstance(body, (dict, list)) or body is None:
            payload, content_type = json.dumps(body).encode(), self.json_content_type
        else:
            payload, content_type = str(body).encode(), self.text_content_type
        if response.content_type is not None:
            content_type = response.content_type
        handler.send_response(response.status)
        if content_type:  # "" sends none, as servers do for an empty answer
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            handler.send_header(name, str(value))
        handler.end_headers()
        handler.wfile.write(payload)
