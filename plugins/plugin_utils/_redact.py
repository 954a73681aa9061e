# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Keeping secrets out of what the collection writes: audit lines, timelines, diagnostics bundles.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse

# The runbook's secrets, by the environment variables AWX/AAP credentials and the sandbox set.
SECRET_VARIABLES = ("VERCEL_TOKEN", "SLACK_INCIDENT_WEBHOOK", "SLACK_DEPLOYMENT_WEBHOOK", "SLACK_MAINTENANCE_WEBHOOK",
                    "STATUS_PAGE_API_KEY", "PAGERDUTY_ROUTING_KEY", "PAGERDUTY_API_TOKEN", "DATABASE_URL", "PGPASSWORD")
MASK = "********"

# Secrets by their shape, for text the collection did not write itself (journal lines, application logs).
SECRET_SHAPES = [
    # scheme://user:password@host, and scheme://:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(@)", re.IGNORECASE), r"\1" + MASK + r"\2"),
    # Authorization: Bearer x / OAuth x / Token token=x / Basic x
    (re.compile(r"(\b(?:bearer|oauth|basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"(\btoken\s+token=)[^\s\"',;]+", re.IGNORECASE), r"\1" + MASK),
    # Slack webhook paths carry the secret in the path itself.
    (re.compile(r"(hooks\.slack(?:-gov)?\.com/services/)[A-Za-z0-9/]+"), r"\1" + MASK),
]

# password=x, api_key: x, "token": "x", session=x, and names ending so (PGPASSWORD=x): right for logs,
# too eager for sentences people write ("session: lost"), so callers choose.
KEYWORD_SHAPE = (
    re.compile(r"""(\b\w*?(?:password|passwd|pwd|secret|api[_-]?key|token|routing[_-]?key|session|cookie)["']?\s*[=:]\s*["']?)"""
               r"""[^\s"',;&]+""", re.IGNORECASE),
    r"\1" + MASK,
)


def secret_values(names=SECRET_VARIABLES, extra=()):
    """The values to mask: those of the named environment variables, a DSN's password, and ``extra``."""
    values = set()
    for value in [os.environ.get(name) or "" for name in names] + list(extra):
        value = value.strip()
        values.add(value)
        if "://" in value:
            password = urllib.parse.urlsplit(value).password or ""
            values.update((password, urllib.parse.unquote(password)))
    # Longest first, so that a secret containing another is masked whole; short values would mask words.
    return sorted((value for value in values if len(value) >= 4), key=len, reverse=True)


def mask_values(text, values):
    """The text with each value masked, as it stands and as it stands inside a JSON string."""
    for value in values:
        text = text.replace(value, MASK).replace(json.dumps(value, ensure_ascii=False)[1:-1], MASK)
    return text


def mask_shapes(text, keywords=True):
    """The text with everything shaped like a credential masked; ``keywords`` adds key=value shapes."""
    for pattern, replacement in SECRET_SHAPES + ([KEYWORD_SHAPE] if keywords else []):
        text = pattern.sub(replacement, text)
    return text
