# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A small client of the Atlassian Statuspage REST API v1, and the shape of an incident.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

import datetime
import urllib.parse

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError, HTTPClient, hint_for

SERVICE = "Statuspage API"
DEFAULT_API_URL = "https://api.statuspage.io/v1"
PAGE_SIZE = 100  # the most Statuspage gives in one page of any listing
NAME_MAX = 255

REALTIME_STATUSES = ("investigating", "identified", "monitoring", "resolved")
SCHEDULED_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
COMPONENT_STATUSES = ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")
IMPACTS = ("none", "minor", "major", "critical", "maintenance")


def read_statuspage_error(body):
    """The spec's error body is ``{"message": ...}``; real answers are also seen as ``{"error": ...}``,
    a string or a list of strings."""
    if isinstance(body, dict):
        texts = []
        for field in ("message", "error", "errors"):
            value = body.get(field)
            if isinstance(value, dict):
                value = value.get("message") or value.get("error")
            if isinstance(value, list):
                value = "; ".join(str(item) for item in value if item)
            if value and str(value) not in texts:
                texts.append(str(value))
        return None, "; ".join(texts) or None
    return None, body if isinstance(body, str) and body.strip() else None


def statuspage_hint(status, code):
    if status == 401:
        return "The API key is missing or invalid: check STATUS_PAGE_API_KEY (or the api_key option)."
    if status == 404:
        return "Check the page id (STATUS_PAGE_ID or page_id) and that the API key belongs to that page."
    if status == 422:
        return "Statuspage refused the values sent: correct the options its message names."
    if status in (420, 429):
        return "Statuspage allows about one request a second per API key; wait a minute and run again."
    return hint_for(status)


def incident_kind(incident):
    """``maintenance`` for a scheduled incident, ``incident`` for a realtime one."""
    if incident.get("status") in SCHEDULED_STATUSES or incident.get("scheduled_for"):
        return "maintenance"
    return "incident"


def moment_of(item, field):
    """An incident's or update's time ``field``; the oldest possible when unknown or unreadable."""
    try:
        moment = datetime.datetime.fromisoformat((item.get(field) or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    # Statuspage answers in the page's time zone; a time without one is read as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def created_moment(item):
    """When an incident or update was created, for sorting."""
    return moment_of(item, "created_at")


def newest_first(incidents):
    return sorted(incidents, key=created_moment, reverse=True)


def updates_newest_first(incident):
    return sorted(incident.get("incident_updates") or [], key=created_moment, reverse=True)


def summarize(incident, key=None):
    """The fields a playbook needs of an incident, in one shape."""
    return {
        "id": incident.get("id"),
        "name": incident.get("name"),
        "key": key,
        "kind": incident_kind(incident),
        "status": incident.get("status"),
        "impact": incident.get("impact"),
        "shortlink": incident.get("shortlink"),
        "created_at": incident.get("created_at"),
        "updated_at": incident.get("updated_at"),
        "resolved_at": incident.get("resolved_at"),
        "scheduled_for": incident.get("scheduled_for"),
        "scheduled_until": incident.get("scheduled_until"),
        "components": [{"id": component.get("id"), "name": component.get("name"), "status": component.get("status")}
                       for component in incident.get("components") or []],
        "metadata": incident.get("metadata") or {},
        "updates": [{"status": update.get("status"), "body": update.get("body"), "created_at": update.get("created_at")}
                    for update in updates_newest_first(incident)],
    }


class StatuspageClient:
    """The incident and component endpoints of one Statuspage page, each returning plain data."""

    def __init__(self, api_key, page_id, base_url=DEFAULT_API_URL, **http_options):
        # Keys read from files or secrets often end in a line break, which no header may hold.
        api_key = api_key.strip()
        self.http = HTTPClient(SERVICE, base_url or DEFAULT_API_URL,
                               headers={"Authorization": f"OAuth {api_key}", "Accept": "application/json"},
                               describe_error=read_statuspage_error, hint=statuspage_hint, secrets=[api_key],
                               **http_options)
        self.page_path = f"/pages/{urllib.parse.quote(page_id.strip(), safe='')}"

    def _request(self, method, path, query=None, body=None, expected=(200,), shape=dict, idempotent=None):
        response = self.http.request(method, self.page_path + path, query=query, body=body, expected=expected,
                                     idempotent=idempotent)
        if not isinstance(response.body, shape):
            raise APIError(SERVICE, method, self.page_path + path, response.status,
                           f"the answer was not a JSON {'array' if shape is list else 'object'}",
                           hint="The base URL may not point at the Statuspage API.", origin=self.http.base_url)
        return response.body

    def _all_pages(self, path, query, size_name):
        """Every item of a paged listing: page 1, 2, ... until a page comes back shorter than asked."""
        items, seen, page = [], set(), 1
        while True:
            batch = self._request("GET", path, query={**query, size_name: PAGE_SIZE, "page": page}, shape=list)
            fresh = [item for item in batch if item.get("id") not in seen]
            if batch and not fresh:
                # A server that ignores ``page`` answers page 1 again and again; stop instead of looping.
                raise APIError(SERVICE, "GET", self.page_path + path, 200, f"page {page} repeated earlier items",
                               hint="This is a fault of the API; run again later.", origin=self.http.base_url)
            items.extend(fresh)
            seen.update(item.get("id") for item in fresh)
            if len(batch) < PAGE_SIZE:
                return items
            page += 1

    def components(self):
        """Every component of the page (always paged since 2023, at most 100 a page)."""
        return self._all_pages("/components", {}, "per_page")

    def incidents_matching(self, text):
        """Incidents whose name, status, updates or postmortem contain ``text``, as Statuspage searches."""
        return self._all_pages("/incidents", {"q": text}, "limit")

    def unresolved_incidents(self):
        return self._all_pages("/incidents/unresolved", {}, "per_page")

    def open_maintenances(self):
        """Scheduled maintenances still to come and those in progress.

        Whether ``scheduled`` also lists the maintenances in progress is undocumented, so both
        listings are read; a maintenance in both is given once.
        """
        listed = (self._all_pages("/incidents/scheduled", {}, "per_page")
                  + self._all_pages("/incidents/active_maintenance", {}, "per_page"))
        return list({incident.get("id"): incident for incident in listed}.values())

    def incidents_since(self, since, lookback_days=7):
        """Incidents created, updated or resolved at or after ``since`` (an aware datetime).

        The listing comes newest first; reading stops after the first page whose oldest item was created
        ``lookback_days`` before ``since``, so a quiet page's whole history is not read every morning.
        """
        oldest_wanted = since - datetime.timedelta(days=lookback_days)
        found, page = [], 1
        while True:
            batch = self._request("GET", "/incidents", query={"limit": PAGE_SIZE, "page": page}, shape=list)
            found.extend(item for item in batch
                         if max(created_moment(item), moment_of(item, "updated_at"), moment_of(item, "resolved_at"))
                         >= since)
            if len(batch) < PAGE_SIZE or min(created_moment(item) for item in batch) < oldest_wanted:
                return list({item.get("id"): item for item in found}.values())
            page += 1

    def incident(self, incident_id):
        return self._request("GET", f"/incidents/{urllib.parse.quote(incident_id, safe='')}")

    def create_incident(self, fields):
        """Create an incident. Not repeated after an ambiguous failure: a repeat could create a second one."""
        return self._request("POST", "/incidents", body={"incident": fields}, expected=(200, 201))

    def update_incident(self, incident_id, fields):
        """Change an incident. Setting the same values again changes nothing, so a PATCH may be repeated;
        but a status or body also posts an incident update (and notifies subscribers), which a repeat after
        an ambiguous failure would post twice, so such a PATCH is repeated only when Statuspage refused it."""
        posts_update = "status" in fields or "body" in fields
        return self._request("PATCH", f"/incidents/{urllib.parse.quote(incident_id, safe='')}",
                             body={"incident": fields}, idempotent=not posts_update)


def carries(incident, key):
    """Whether the incident's name starts with the key in square brackets.

    Only the start counts: a title that mentions another incident ("maybe related to [INC-...]") must not
    make its incident the other one's.
    """
    return (incident.get("name") or "").startswith(f"[{key}]")


def incidents_carrying(client, key, kind="incident"):
    """The incidents (or, for ``kind="maintenance"``, the maintenances too) that carry the key, newest first.

    Statuspage's search is a text index whose freshness and handling of a key like INC-20261204-120000
    are undocumented; a miss there would create a second incident, so before concluding there is none,
    the open incidents (or maintenances), read from the page itself, are looked through too.
    """
    matches = [incident for incident in client.incidents_matching(key) if carries(incident, key)]
    if not matches:
        listed = client.unresolved_incidents() if kind == "incident" else client.open_maintenances()
        matches = [incident for incident in listed if carries(incident, key)]
    return newest_first(matches)
