# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Putting a deployment live on Vercel: build it from git or take one that exists, wait until it is READY,
and make sure the production domains serve it.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

import time

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._vercel import aliases_of, bare_host, serving, summarize

FINISHED = frozenset(("READY", "ERROR", "CANCELED"))
IN_PROGRESS = ("QUEUED", "INITIALIZING", "BUILDING")
# A short SHA shorter than this could name several commits.
SHORT_SHA = 7
# Vercel stops a build after 45 minutes; one older than this is not going to finish.
LONGEST_BUILD_S = 3600
# While a build runs, a progress line at least this often, even when its state stays the same.
PROGRESS_EVERY_S = 30


class DeployError(Exception):
    """The deploy stopped; ``result`` says how far it got (what was created, what serves production)."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


def same_commit(one, other):
    """Whether two SHAs, full or abbreviated, name the same commit."""
    one, other = (one or "").lower(), (other or "").lower()
    if min(len(one), len(other)) < SHORT_SHA:
        return False
    return one.startswith(other) or other.startswith(one)


def git_source(project, repository, ref, commit, provider=None):
    """The ``gitSource`` of a new deployment, from the options or else the project's linked repository."""
    link = project.get("link") or {}
    provider = provider or link.get("type") or "github"
    source = {"type": provider, "ref": ref}
    if commit:
        source["sha"] = commit
    if provider == "gitlab":
        source["projectId"] = repository or link.get("projectId")
        if not source["projectId"]:
            raise ValueError("The project has no linked GitLab repository: give repository (the GitLab project id).")
        return source

    if repository:
        owner, slash, name = repository.partition("/")
        if not (slash and owner and name and "/" not in name):
            raise ValueError(f"repository must be owner/name, not {repository!r}.")
    elif provider == "github" and link.get("repoId"):
        return {**source, "repoId": link["repoId"]}
    elif provider == "github" and link.get("org") and link.get("repo"):
        owner, name = link["org"], link["repo"]
    elif provider == "bitbucket" and link.get("owner") and link.get("slug"):
        owner, name = link["owner"], link["slug"]
    else:
        raise ValueError(f"The project {project.get('name')} has no linked git repository that Vercel reports: "
                         "give repository (owner/name).")
    if provider == "bitbucket":
        return {**source, "owner": owner, "slug": name}
    return {**source, "org": owner, "repo": name}


class Deployer:
    """One project's production, seen through its domains (or, without any, Vercel's production target)."""

    def __init__(self, client, project, domains, timeout, poll_interval, report=None, clock=time.monotonic,
                 sleep=time.sleep):
        self.client = client
        self.project = client.project(project)
        self.domains = domains
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.report = report or (lambda line: None)
        self.clock = clock
        self.sleep = sleep
        self.started = clock()

    # ----- what production serves --------------------------------------------
    def serving(self):
        """Each domain with the deployment it serves; without domains, the project's production target."""
        if self.domains:
            return serving(aliases_of(self.client, self.domains))
        project = self.client.project(self.project["id"])
        target = ((project.get("targets") or {}).get("production") or {}).get("id")
        return {"(production)": target}

    def live(self):
        """The deployment production serves now (the first domain's), summarized, or None."""
        live_id = next(iter(self.serving().values()), None)
        return summarize(self.client.deployment(live_id)) if live_id else None

    def serves(self, deployment_id):
        return all(served == deployment_id for served in self.serving().values())

    # ----- finding and starting a build ----------------------------------------
    def find(self, id_or_url):
        try:
            deployment = summarize(self.client.deployment(bare_host(id_or_url)))
        except APIError as exc:
            if exc.status == 404:
                raise ValueError(f"Vercel knows no deployment {id_or_url!r} in this team.") from None
            raise
        if deployment["project_id"] != self.project["id"]:
            raise ValueError(f"The deployment {deployment['id']} belongs to another project than "
                             f"{self.project['name']}.")
        return deployment

    def unfinished_build_of(self, commit, live):
        """A production deployment of the commit that an earlier, interrupted run started: still building,
        or READY, newer than what is live and staged (it never served). Taking it over saves a second build.

        One that served production and was moved away from (a rollback) is not taken: it failed once, and
        a fresh build picks up what was fixed since, environment variables included."""
        for page in self.client.deployment_pages(self.project["id"], target="production",
                                                 states=(*IN_PROGRESS, "READY"), page_size=20):
            for deployment in map(summarize, page):
                if live and deployment["created"] <= live["created"]:
                    return None
                unfinished = deployment["state"] in IN_PROGRESS or deployment["ready_substate"] == "STAGED"
                if unfinished and same_commit(deployment["commit_sha"], commit):
                    return deployment
            # The first page holds every build newer than the live one, short of twenty builds in a row.
            return None
        return None

    def check_no_other_build(self, live, own=None):
        """Refuse while another production build, newer than the live one, runs: Vercel would put it live by
        itself after this one. One begun before the live one, or longer ago than any build may take, is stuck,
        not on its way."""
        if self.project.get("autoAssignCustomDomains") is False:
            return
        pages = self.client.deployment_pages(self.project["id"], target="production", states=IN_PROGRESS,
                                             page_size=20)
        recent = (time.time() - LONGEST_BUILD_S) * 1000
        for deployment in map(summarize, next(pages, [])):
            newer = not live or deployment["created"] > live["created"]
            if deployment["id"] != own and newer and deployment["created"] > recent:
                raise ValueError(
                    f"The production build {deployment['id']} (commit {deployment['commit_sha'] or 'unknown'}) is "
                    f"still {deployment['state']}: Vercel would put it live by itself after this deploy. Wait for "
                    f"it to finish, or cancel it in Vercel ({deployment['inspector_url']}), then run again.")

    def create(self, body):
        return summarize(self.client.create_deployment(body))

    # ----- waiting -------------------------------------------------------------
    def remaining(self):
        return self.timeout - (self.clock() - self.started)

    def wait_until_finished(self, deployment, result):
        """Poll until READY, ERROR or CANCELED; report each change of state, and every half minute."""
        state, since_report = None, None
        while True:
            current = summarize(self.client.deployment(deployment["id"]))
            elapsed = int(self.clock() - self.started)
            if current["state"] != state or self.clock() - since_report >= PROGRESS_EVERY_S:
                self.report(f"{current['id']} {current['state']} after {elapsed} s")
                result["states"].append({"state": current["state"], "after_s": elapsed})
                state, since_report = current["state"], self.clock()
            if current["state"] in FINISHED:
                return current
            if self.remaining() <= 0:
                raise DeployError(
                    f"The deployment {current['id']} is still {current['state']} after {self.timeout:g} s. "
                    "Production was not changed by this run, but Vercel goes on building: unless the project "
                    "stages production builds, it goes live by itself when READY. Watch it at "
                    f"{current['inspector_url']}, or cancel it in Vercel.", {**result, "deployment": current})
            self.sleep(min(self.poll_interval, max(self.remaining(), 0.1)))

    def promote(self, deployment, result):
        """Point production at a READY production deployment and wait until the domains serve it."""
        self.report(f"promoting {deployment['id']} to production")
        try:
            queued = self.client.promote(self.project["id"], deployment["id"])
            result["promoted"] = True
        except APIError as exc:
            # 409: Vercel has it as production already, yet a domain here lags behind: it is pointed there
            # as a rollback would, which fails plainly for a domain of another project.
            if exc.status != 409:
                raise
            queued = False
            for domain, served in self.serving().items():
                if served != deployment["id"]:
                    self.report(f"pointing {domain} at {deployment['id']}, production already for Vercel")
                    self.client.assign_alias(deployment["id"], domain)
        if queued:
            self.report(f"Vercel queued the promotion of {deployment['id']} behind a rolling release")
        while not self.serves(deployment["id"]):
            if self.remaining() <= 0:
                raise DeployError(
                    f"The deployment {deployment['id']} is READY, but after {self.timeout:g} s the domains serve "
                    f"{self.serving()}. Look at the project's domains in Vercel.",
                    {**result, "deployment": deployment})
            self.sleep(min(self.poll_interval, max(self.remaining(), 0.1)))

    def go_live(self, deployment, result):
        """After READY: Vercel moves the domains itself, unless the project stages production builds."""
        if not self.serves(deployment["id"]):
            self.promote(deployment, result)
        result["serving"] = self.serving()
        return deployment


def build_failed(deployment):
    """The failure of an ERROR or CANCELED build, in Vercel's words."""
    why = (deployment["error_message"] or "Vercel gave no reason").rstrip(". ")
    return (f"The deployment {deployment['id']} ended {deployment['state']}: {why}. Production was not changed. "
            f"Build log: {deployment['inspector_url']}")
