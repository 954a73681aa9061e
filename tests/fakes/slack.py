"""Fake of Slack incoming webhooks (api-contracts.md section 4).

The hook path is the secret, there is no auth header. Success is ``200 ok``
in text/plain; every error is a plain-text code. Accepted messages are kept in
the state under ``messages`` so tests can read what would have been posted.
"""
import json
import time
from urllib.parse import parse_qs

from ._base import FakeServer, Response


def slack_error(status, code):
    return Response(status, code)


def parse_payload(request):
    """The message dict from a JSON or legacy ``payload=<json>`` form body, else None."""
    try:
        if request.content_type == "application/json":
            payload = request.json()
        elif request.content_type == "application/x-www-form-urlencoded":
            payload = json.loads(parse_qs(request.body.decode("utf-8"), strict_parsing=True)["payload"][0])
        else:
            return None
    except (ValueError, KeyError):
        return None
    return payload if isinstance(payload, dict) else None


def blocks_are_valid(blocks):
    return isinstance(blocks, list) and all(
        isinstance(block, dict) and isinstance(block.get("type"), str) for block in blocks)


class SlackServer(FakeServer):
    def default_fault_body(self, status):
        return "rate_limited" if status == 429 else ""

    def default_fault_headers(self, status):
        return {"Retry-After": 1} if status == 429 else {}

    def handle_request(self, request):
        hook = self._state.get("hooks", {}).get(request.path)
        if hook is None:
            return slack_error(404, "no_service")
        if request.method != "POST":
            return slack_error(405, "invalid_method")  # U: the contract says nothing about other methods
        payload = parse_payload(request)
        if payload is None:
            return slack_error(400, "invalid_payload")
        if "blocks" in payload and not blocks_are_valid(payload["blocks"]):
            return slack_error(400, "invalid_blocks")
        if not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
            return slack_error(400, "no_text")
        self._state.setdefault("messages", []).append(
            {"hook": request.path, "channel": hook.get("channel"), "payload": payload, "time": time.time()})
        return Response(200, "ok")
