# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""runbook.ops.vercel_deployment: put a production deployment live (documentation in
plugins/modules/vercel_deployment.py).

An action on the controller, not a module: a build takes minutes, and only an action can show its
progress in the job log while it waits.
"""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._vercel import SCHEMA_VERSION_META
from ansible_collections.runbook.ops.plugins.module_utils._vercel_deploy import (
    Deployer,
    DeployError,
    build_failed,
    git_source,
    same_commit,
)
from ansible_collections.runbook.ops.plugins.module_utils._vercel_options import client_from, vercel_argument_spec
from ansible_collections.runbook.ops.plugins.plugin_utils._controller_action import ControllerAction

display = Display()

ARGUMENT_SPEC = vercel_argument_spec(
    project={"type": "str", "required": True},
    domains={"type": "list", "elements": "str", "default": []},
    ref={"type": "str"},
    commit={"type": "str"},
    repository={"type": "str"},
    git_provider={"type": "str", "choices": ["github", "gitlab", "bitbucket"]},
    deployment={"type": "str"},
    meta={"type": "dict", "default": {}},
    schema_version={"type": "str"},
    wait_timeout={"type": "float", "default": 1200},
    poll_interval={"type": "float", "default": 5},
)


def problems_with(args):
    """What is wrong with the arguments, before any request."""
    if args["wait_timeout"] <= 0 or args["poll_interval"] <= 0:
        return "wait_timeout and poll_interval must be more than 0."
    if args["ref"] is not None and not args["ref"].strip():
        return "ref must not be empty: give a branch or tag."
    if args["commit"] is not None and not (7 <= len(args["commit"]) <= 40
                                           and all(c in "0123456789abcdefABCDEF" for c in args["commit"])):
        return f"commit must be a git SHA of 7 to 40 hexadecimal digits, not {args['commit']!r}."
    if not all(isinstance(value, str) for value in args["meta"].values()):
        # Quote them: YAML reads 2.10 as the number 2.1, which would be recorded as such.
        return "meta values must be strings (Vercel keeps deployment metadata as text); quote numbers."
    return None


def new_meta(args):
    meta = dict(args["meta"])
    if args["schema_version"] is not None:
        meta[SCHEMA_VERSION_META] = args["schema_version"]
    return meta


def everywhere(result, deployment):
    """Whether every domain served the deployment when the task started."""
    return all(served == deployment["id"] for served in result["serving_before"].values())


def deploy_from_git(deployer, args, check_mode, result):
    """Build the ref (at the commit) unless that commit is live already; take over a build a stopped run left."""
    live = result["previous"]
    if args["commit"] and live and same_commit(live["commit_sha"], args["commit"]):
        if everywhere(result, live):
            result.update(deployment=live, already_live=True)
            return None
        # Some domain lags behind the live build of the commit: it is pointed there, not built again.
        result["changed"] = True
        return live
    source = git_source(deployer.project, args["repository"], args["ref"], args["commit"], args["git_provider"])
    result["git_source"] = source
    result["changed"] = True
    found = deployer.unfinished_build_of(args["commit"], live) if args["commit"] else None
    deployer.check_no_other_build(live, own=found and found["id"])
    if found:
        deployer.report(f"taking over {found['id']}, a build of {found['commit_sha']} started before")
        result["adopted"] = True
        return found
    if check_mode:
        return None
    body = {"name": deployer.project["name"], "project": deployer.project["id"], "target": "production",
            "gitSource": source, "meta": new_meta(args)}
    created = deployer.create(body)
    result["created"] = True
    deployer.report(f"created {created['id']} from {args['ref']} ({created['url']})")
    return created


def deploy_existing(deployer, args, check_mode, result):
    """Promote a READY deployment; a preview one is rebuilt for production first, as Vercel's CLI does."""
    chosen = deployer.find(args["deployment"])
    result["source_deployment"] = chosen
    live = result["previous"]
    # A preview whose commit production serves is live already, through the production build made of it.
    serves_it = live and (chosen["id"] == live["id"]
                          or (chosen["target"] != "production" and same_commit(live["commit_sha"], chosen["commit_sha"])))
    if serves_it and everywhere(result, live):
        result.update(deployment=live, already_live=True)
        return None
    if chosen["state"] != "READY":
        raise ValueError(f"The deployment {chosen['id']} is {chosen['state']}, not READY: only a READY "
                         "deployment can go live.")
    result["changed"] = True
    deployer.check_no_other_build(live)
    if serves_it:
        return live
    if chosen["target"] == "production":
        return chosen
    if check_mode:
        # A new production build of the preview would go live, not the preview itself.
        return None
    body = {"deploymentId": chosen["id"], "name": deployer.project["name"], "project": deployer.project["id"],
            "target": "production", "meta": {**new_meta(args), "action": "promote"}}
    created = deployer.create(body)
    result["created"] = True
    deployer.report(f"created {created['id']} for production from the preview {chosen['id']}")
    return created


def serving_now(deployer):
    """What the domains serve, read again after a failure; None when Vercel cannot say either."""
    try:
        return deployer.serving()
    except APIError:
        return None


def put_live(args, check_mode):
    client = client_from(args)
    deployer = Deployer(client, args["project"], args["domains"], args["wait_timeout"], args["poll_interval"],
                        report=lambda line: display.display(f"vercel_deployment: {line}"))
    before = deployer.serving()
    result = {"changed": False, "created": False, "adopted": False, "promoted": False, "already_live": False,
              "project": {"id": deployer.project["id"], "name": deployer.project["name"]},
              "previous": deployer.live(), "serving_before": before, "serving": before, "states": []}

    start = deploy_existing if args["deployment"] else deploy_from_git
    deployment = start(deployer, args, check_mode, result)
    if deployment is None or check_mode:
        result.setdefault("deployment", deployment)
        return result

    # From here on a deployment exists: whatever stops the run, the result says which one.
    result["deployment"] = deployment
    try:
        if deployment["state"] != "READY":
            deployment = deployer.wait_until_finished(deployment, result)
            result["deployment"] = deployment
        if deployment["state"] != "READY":
            raise DeployError(build_failed(deployment), result)
        deployer.go_live(deployment, result)
    except APIError as exc:
        result["serving"] = serving_now(deployer)
        sent = " The promotion was sent; Vercel may still complete it." if result["promoted"] else ""
        raise DeployError(f"{exc} The deployment {deployment['id']} exists; production serves "
                          f"{result['serving'] or 'what Vercel could not say'}.{sent}",
                          {**result, **exc.to_result()}) from None
    return result


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    ARGUMENT_RULES = {
        "mutually_exclusive": [("deployment", "ref"), ("deployment", "commit"), ("deployment", "repository"),
                               ("deployment", "git_provider")],
        "required_one_of": [("deployment", "ref")],
    }

    def act(self, args):
        problem = problems_with(args)
        if problem:
            return {"failed": True, "msg": problem}
        try:
            result = put_live(args, self._task.check_mode)
        except DeployError as exc:
            return {**exc.result, "failed": True, "msg": str(exc)}
        except APIError as exc:
            return {"failed": True, "msg": str(exc), **exc.to_result()}
        except ValueError as exc:
            return {"failed": True, "msg": f"{exc} Nothing was changed."}

        if result["changed"]:
            result["diff"] = {"before": {"serving": result["serving_before"]},
                              "after": {"serving": {domain: (result["deployment"] or {}).get("id", "(new deployment)")
                                                    for domain in result["serving_before"]}}}
        return result
