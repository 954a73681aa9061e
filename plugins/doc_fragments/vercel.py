# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection and credential options shared by every Vercel module.
    DOCUMENTATION = r"""
options:
  token:
    description:
      - Vercel access token.
      - Read from E(VERCEL_TOKEN) when not given; one of the two is required. It is never logged or returned.
    type: str
  team:
    description:
      - The team that owns the project, as its id (V(team_...)) or its slug.
      - Read from E(VERCEL_ORG_ID) when not given. Leave it unset for a personal account.
    type: str
  api_url:
    description:
      - Base URL of the Vercel API, for proxies and tests.
      - Read from E(VERCEL_API_URL) when not given.
    type: str
    default: https://api.vercel.com
  deadline:
    description:
      - Seconds within which all attempts of one request must finish.
      - Rate limits (429) and gateway errors (502, 503, 504) are retried with backoff
        inside this deadline, honouring C(Retry-After); other errors fail at once.
    type: float
    default: 60
"""
