"""Fake of the web app's health endpoint.

It answers for whichever deployment the production domain points at in the
Vercel fake, so moving an alias there (a promote or a rollback) changes what
the health check sees, exactly as a real cut-over would.
"""
from ._base import FakeServer, Response

HEALTH_PATHS = ("/api/health", "/")
MODES = ("auto", "ok", "fail")


class HealthServer(FakeServer):
    def __init__(self, vercel, domain, port=0):
        super().__init__({"domain": domain, "mode": "auto"}, port)
        self.vercel = vercel

    def set_mode(self, mode):
        """Force the answer (``ok``/``fail``) or follow the live deployment (``auto``)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        with self.lock:
            self._state["mode"] = mode

    def control_routes(self):
        routes = super().control_routes()
        routes[("POST", "/_fake/health")] = lambda r: self.set_mode(r.json()["mode"]) or self.state()
        return routes

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
        if healthy:
            return Response(200, {"status": "ok", "deployment": deployment_id})
        return Response(503, {"status": "fail", "deployment": deployment_id})
