# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A small client of the Vercel REST API, and the rules for picking deployments.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

import datetime
import urllib.parse

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError, HTTPClient

DEFAULT_API_URL = "https://api.vercel.com"
PAGE_SIZE_MAX = 100
# States in which a deployment will never serve traffic or has not finished building.
UNUSABLE_STATES = frozenset(("ERROR", "CANCELED", "DELETED", "BLOCKED", "BUILDING", "INITIALIZING", "QUEUED"))


def read_vercel_error(body):
    """Vercel answers ``{"error": {"code", "message"}}``; its CLI also tolerates ``err``."""
    if isinstance(body, dict):
        error = body.get("error") or body.get("err") or {}
        if isinstance(error, dict):
            return error.get("code"), error.get("message")
    return None, body if isinstance(body, str) and body else None


def bare_host(id_or_url):
    """A deployment id stays as it is; a URL loses its scheme and trailing slash."""
    value = id_or_url.strip()
    if "://" in value:
        value = urllib.parse.urlsplit(value).netloc
    return value.rstrip("/")


def _iso(ms):
    if not ms:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


GIT_PROVIDERS = ("github", "gitlab", "bitbucket")
# The deployment's meta key where a deploy records the database schema version it was built for.
SCHEMA_VERSION_META = "runbookSchemaVersion"


def commit_repo(meta):
    """``org/repo`` from a deployment's git metadata (``githubCommitOrg`` and ``githubCommitRepo``, and
    their gitlab and bitbucket twins), or None when it does not say."""
    for provider in GIT_PROVIDERS:
        org = meta.get(f"{provider}CommitOrg") or meta.get(f"{provider}Org")
        repo = meta.get(f"{provider}CommitRepo") or meta.get(f"{provider}Repo")
        if org and repo:
            return f"{org}/{repo}"
    return None


def created_since(hours, now):
    """The ``since`` of the deployments listing, in milliseconds, for those created within ``hours`` of ``now`` (s)."""
    return int((now - hours * 3600) * 1000)


def summarize(deployment):
    """One shape for a deployment, whether it came from the list (``uid``) or a GET (``id``)."""
    meta = deployment.get("meta") or {}
    creator = deployment.get("creator") or {}
    created = deployment.get("created") or deployment.get("createdAt")
    return {
        "id": deployment.get("id") or deployment.get("uid"),
        "url": deployment.get("url"),
        "name": deployment.get("name"),
        "state": deployment.get("readyState") or deployment.get("state"),
        "target": deployment.get("target"),
        "project_id": deployment.get("projectId"),
        "created": created,
        "created_at": _iso(created),
        "creator": creator.get("username") or creator.get("email") or creator.get("uid"),
        "commit_sha": meta.get("githubCommitSha") or meta.get("gitlabCommitSha") or meta.get("bitbucketCommitSha"),
        "commit_ref": meta.get("githubCommitRef") or meta.get("gitlabCommitRef") or meta.get("bitbucketCommitRef"),
        "commit_message": meta.get("githubCommitMessage") or meta.get("gitlabCommitMessage"),
        "inspector_url": deployment.get("inspectorUrl"),
        "commit_repo": commit_repo(meta),
        # Vercel's own words on a failed build, in the listing and in a single deployment alike.
        "error_message": deployment.get("errorMessage"),
        # STAGED: built for production but not serving it until promoted.
        "ready_substate": deployment.get("readySubstate"),
        "schema_version": meta.get(SCHEMA_VERSION_META),
    }


class VercelClient:
    """The few Vercel endpoints a rollback needs, each returning plain data."""

    def __init__(self, token, team=None, base_url=DEFAULT_API_URL, **http_options):
        # Tokens read from files or secrets often end in a line break, which no header may hold.
        token = token.strip()
        self.http = HTTPClient("Vercel API", base_url or DEFAULT_API_URL,
                               headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                               describe_error=read_vercel_error, secrets=[token], **http_options)
        # Team ids start with team_; anything else is the team's slug.
        if not team:
            self.scope = {}
        elif team.startswith("team_"):
            self.scope = {"teamId": team}
        else:
            self.scope = {"slug": team}

    def _get(self, path, query=None):
        response = self.http.request("GET", path, query={**self.scope, **(query or {})})
        if not isinstance(response.body, dict):
            raise APIError(self.http.service, "GET", path, response.status, "the answer was not a JSON object",
                           hint="The base URL may not point at the Vercel API.", origin=self.http.base_url)
        return response.body

    def project(self, id_or_name):
        return self._get(f"/v9/projects/{urllib.parse.quote(id_or_name, safe='')}")

    def deployment(self, id_or_url):
        return self._get(f"/v13/deployments/{urllib.parse.quote(bare_host(id_or_url), safe='')}")

    def deployment_pages(self, project_id, target=None, states=None, page_size=20, since=None):
        """Yield pages of deployments, newest first, following ``until`` until ``next`` is null.

        ``since`` (milliseconds) leaves out the deployments created before it.
        """
        query = {"projectId": project_id, "limit": min(page_size, PAGE_SIZE_MAX)}
        if target:
            query["target"] = target
        if states:
            query["state"] = ",".join(states)
        if since is not None:
            query["since"] = since
        while True:
            page = self._get("/v6/deployments", query)
            yield page.get("deployments") or []
            following = (page.get("pagination") or {}).get("next")
            if not following:
                return
            if "until" in query and following >= query["until"]:
                # Each page must start further back in time, or the listing would never end.
                raise APIError(self.http.service, "GET", "/v6/deployments", 200,
                               f"pagination did not move back in time (next={following} after until={query['until']})",
                               hint="This is a fault of the API; run again later.", origin=self.http.base_url)
            query["until"] = following

    def alias(self, domain):
        """The alias of a domain, or None when the domain has none."""
        try:
            return self._get(f"/v4/aliases/{urllib.parse.quote(domain, safe='')}")
        except APIError as exc:
            if exc.status == 404:
                return None
            raise

    def assign_alias(self, deployment_id, domain):
        """Point a domain at a deployment. Vercel moves an existing alias, so a repeat is harmless."""
        path = f"/v2/deployments/{urllib.parse.quote(deployment_id, safe='')}/aliases"
        response = self.http.request("POST", path, query=self.scope, body={"alias": domain, "redirect": None},
                                     idempotent=True)
        return response.body if isinstance(response.body, dict) else {}

    def create_deployment(self, body):
        """Start a deployment. Not repeated after an ambiguous failure: a repeat could build twice."""
        response = self.http.request("POST", "/v13/deployments", query={**self.scope, "forceNew": "0"}, body=body,
                                     expected=(200, 201))
        return response.body

    def promote(self, project_id, deployment_id):
        """Point production at a READY production deployment; True when Vercel queued it (202) behind a
        rolling release. Pointing production where it already points changes nothing, so a repeat is harmless."""
        path = (f"/v10/projects/{urllib.parse.quote(project_id, safe='')}"
                f"/promote/{urllib.parse.quote(deployment_id, safe='')}")
        response = self.http.request("POST", path, query=self.scope, body={}, expected=(200, 201, 202),
                                     idempotent=True)
        return response.status == 202

    def env_vars(self, project, decrypt=False):
        """Every environment variable of a project, following ``until`` if Vercel pages them."""
        path = f"/v10/projects/{urllib.parse.quote(project, safe='')}/env"
        query = {"decrypt": "true" if decrypt else "false"}
        found = []
        while True:
            page = self._get(path, query)
            found.extend(page.get("envs") or [])
            following = (page.get("pagination") or {}).get("next")
            if not following or following == query.get("until"):
                return found
            query["until"] = following

    def env_var(self, project, env_id):
        """One environment variable, decrypted: the listing may leave values encrypted even when asked not to."""
        return self._get(f"/v1/projects/{urllib.parse.quote(project, safe='')}/env/{urllib.parse.quote(env_id, safe='')}")


def aliases_of(client, domains):
    """Each domain with the deployment and the project it serves now; both None when it has no alias."""
    result = {}
    for domain in domains:
        alias = client.alias(domain) or {}
        result[domain] = {"deployment_id": alias.get("deploymentId") or (alias.get("deployment") or {}).get("id"),
                          "project_id": alias.get("projectId")}
    return result


def serving(aliases):
    """Each domain with the id of the deployment it serves now."""
    return {domain: alias["deployment_id"] for domain, alias in aliases.items()}


def foreign(aliases, project_id):
    """The domains that serve another project's deployment."""
    return [domain for domain, alias in aliases.items() if alias["project_id"] not in (None, project_id)]


def is_rollback_candidate(deployment, older_than):
    """READY, for production, and created before ``older_than`` (ms)."""
    return (deployment.get("state") == "READY" and deployment.get("target") == "production"
            and (deployment.get("created") or 0) < older_than)
