# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection and credential options shared by every PagerDuty module.
    DOCUMENTATION = r"""
options:
  routing_key:
    description:
      - The integration key of the service's Events API v2 integration (32 characters).
      - Read from E(PAGERDUTY_ROUTING_KEY) when not given; one of the two is required. It is never logged or
        returned.
    type: str
  events_url:
    description:
      - Base URL of PagerDuty's Events API, for proxies and tests.
      - Read from E(PAGERDUTY_EVENTS_URL) when not given; an empty value means the default.
    type: str
    default: https://events.pagerduty.com
  api_token:
    description:
      - A PagerDuty REST API key (account or user key; read-only is enough), used only to look up incidents.
      - Read from E(PAGERDUTY_API_TOKEN) when not given; an empty value means none. It is never logged or
        returned.
    type: str
  api_url:
    description:
      - Base URL of PagerDuty's REST API, for proxies, EU accounts and tests.
      - Read from E(PAGERDUTY_API_URL) when not given; an empty value means the default.
    type: str
    default: https://api.pagerduty.com
  deadline:
    description:
      - Seconds within which all attempts of one request must finish.
      - Rate limits (429) are retried with backoff inside this deadline, honouring C(Retry-After) and
        C(ratelimit-reset). Gateway errors (502, 503, 504) and broken connections are retried only where a
        repeat cannot duplicate anything; other errors fail at once.
    type: float
    default: 60
"""
