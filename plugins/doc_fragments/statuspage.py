# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection and credential options shared by every Statuspage module.
    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - "Statuspage API key, sent as C(Authorization: OAuth <key>)."
      - Read from E(STATUS_PAGE_API_KEY) when not given; one of the two is required. It is never logged or returned.
    type: str
  page_id:
    description:
      - Id of the status page, as in the page's API settings (for example V(sbxpage00001)).
      - Read from E(STATUS_PAGE_ID) when not given; one of the two is required.
    type: str
  api_url:
    description:
      - Base URL of the Statuspage API, for proxies and tests.
      - Read from E(STATUSPAGE_API_URL) when not given; an empty value means the default.
    type: str
    default: https://api.statuspage.io/v1
  deadline:
    description:
      - Seconds within which all attempts of one request must finish.
      - Rate limits (Statuspage answers 420 or 429) and gateway errors (502, 503, 504) are retried with
        backoff inside this deadline, honouring C(Retry-After); other errors fail at once.
      - Statuspage allows about one request a second per API key and may ask for a wait of a minute,
        so a deadline under 60 seconds can give up where waiting would have worked.
    type: float
    default: 60
"""
