# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Slack incoming webhooks: post one message, say clearly why it was refused.

Private to this collection: the interface may change in any release.
The webhook URL is the credential, so no message here ever contains it.
"""

from __future__ import annotations

import urllib.parse

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError, HTTPClient, hint_for

SERVICE = "Slack webhook"
SHOWN_PATH = "/services/***"

# Slack answers with a bare error code; these say what to do about the common ones.
ERROR_HINTS = {
    "invalid_payload": "The message body is not valid JSON for Slack; this is a bug in the message template.",
    "no_text": "The message has no text, blocks or attachments.",
    "missing_text_or_fallback_or_attachments": "The message has no text, blocks or attachments.",
    "invalid_blocks": "A block in the message does not follow Block Kit.",
    "no_service": "The webhook was removed or disabled: create a new one and update the secret.",
    "no_service_id": "The webhook URL is incomplete: copy it again from Slack.",
    "invalid_token": "The webhook URL is wrong or revoked: copy it again from Slack.",
    "channel_not_found": "The webhook's channel is gone: create a webhook for an existing channel.",
    "channel_is_archived": "The webhook's channel is archived: unarchive it or use another webhook.",
    "action_prohibited": "A workspace admin restricts posting there.",
    "posting_to_general_channel_denied": "Only admins may post to that channel.",
    "rate_limited": "Slack is rate limiting this webhook (about one message a second).",
}


def read_slack_error(body):
    """Slack's error body is the bare code."""
    return (body.strip() or None) if isinstance(body, str) else None, None


def slack_hint(status, code):
    return ERROR_HINTS.get(code) or hint_for(status)


def split_webhook(url):
    """``(origin, path)`` of a webhook URL, refusing anything that cannot be one."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.path.strip("/"):
        # Say what is wrong without repeating the URL, which is the secret.
        raise ValueError("The Slack webhook URL is not an http(s) URL with a path.")
    return f"{parts.scheme}://{parts.netloc}", parts.path


class SlackWebhook:
    def __init__(self, url, **http_options):
        origin, self.path = split_webhook(url)
        self.http = HTTPClient(SERVICE, origin, describe_error=read_slack_error, hint=slack_hint,
                               secrets=[url.strip(), self.path], **http_options)

    def post(self, payload):
        """Post one message. Slack's only success is 200 with the body ``ok``."""
        response = self.http.request("POST", self.path, body=payload, shown_path=SHOWN_PATH)
        if not (isinstance(response.body, str) and response.body.strip() == "ok"):
            raise APIError(SERVICE, "POST", SHOWN_PATH, response.status, "the answer was not 'ok'",
                           hint="The URL may not be a Slack incoming webhook.", origin=self.http.base_url)
        return response.status
