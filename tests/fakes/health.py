"""Fake of the web app's health endpoint.

It answers for whichever deployment the production domain points at in the
Vercel fake, so moving an alias there (a promote, a rollback, or a production
build going live) changes what the health check sees, exactly as a real
cut-over would. A deployment's ``health`` (``ok``/``fail``) sets the answer; its
``error_rate``, when it has one, is reported in the body. ``delay_ms`` holds
every answer back, to make the endpoint slow.
"""
import sys
import time

from ._base import CONTROL_PREFIX, FakeServer, Response

HEALTH_PATHS = ("/api/health", "/")
MODES = ("auto", "ok", "fail")
SETTINGS = ("mode", "delay_ms")


def check_delay(delay_ms):
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)) or delay_ms < 0:
        raise ValueError(f"delay_ms must be a number of milliseconds >= 0, not {delay_ms!r}")


class HealthServer(FakeServer):
    def __init__(self, vercel, domain, port=0):
        super().__init__({"domain": domain, "mode": "auto", "delay_ms": 0}, port)
        self.vercel = vercel

    def set_mode(self, mode):
        """Force the answer (``ok``/``fail``) or follow the live deployment (``auto``)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        with self.lock:
            self._state["mode"] = mode

    def set_delay(self, delay_ms):
        """Hold every answer back this many milliseconds; 0 answers at once."""
        check_delay(delay_ms)
        with self.lock:
            self._state["delay_ms"] = delay_ms

    def configure(self, settings):
        """Apply ``{"mode"?, "delay_ms"?}`` as a whole: nothing changes when one of them is wrong."""
        if not isinstance(settings, dict) or not settings or set(settings) - set(SETTINGS):
            raise ValueError(f"give any of {SETTINGS}")
        if "mode" in settings and settings["mode"] not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if "delay_ms" in settings:
            check_delay(settings["delay_ms"])
        with self.lock:
            self._state.update(settings)

    def control_routes(self):
        routes = super().control_routes()
        routes[("POST", "/_fake/health")] = lambda r: self.configure(r.json()) or self.state()
        return routes

    def dispatch(self, handler):
        # Wait before answering, outside the lock, so the controls and other requests go on meanwhile.
        if not handler.path.startswith(CONTROL_PREFIX):
            with self.lock:
                delay_ms = self._state["delay_ms"]
            if delay_ms:
                time.sleep(delay_ms / 1000)
        super().dispatch(handler)

    def handle_error(self, request, client_address):
        # A client that gave up waiting for a slow answer is what the delay is for, not a fault.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def handle_request(self, request):
        if request.path not in HEALTH_PATHS:
            return Response(404, {"status": "not_found"})
        if request.method != "GET":
            return Response(405, {"status": "method_not_allowed"})
        deployment = self.vercel.alias_target(self._state["domain"])
        deployment_id = deployment["id"] if deployment else None
        healthy = bool(deployment) and deployment.get("health", "ok") == "ok"
        if self._state["mode"] != "auto":
            healthy = self._state["mode"] == "ok"
        body = {"status": "ok" if healthy else "fail", "deployment": deployment_id}
        if deployment and deployment.get("error_rate") is not None:
            body["error_rate"] = deployment["error_rate"]
        return Response(200 if healthy else 503, body)
