"""Print what a sandbox run did: where each domain points, the Slack messages, any Statuspage incidents
and PagerDuty alerts, the audit record.

``python -m tests.fakes.summary --ready-file .sandbox/fakes.json --audit .sandbox/audit/audit.jsonl``
"""
import argparse
import json
from pathlib import Path

import requests


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.summary", description=__doc__)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--audit", required=True)
    args = parser.parse_args(argv)
    urls = json.loads(Path(args.ready_file).read_text(encoding="utf-8"))

    vercel = requests.get(urls["vercel"] + "/_fake/state", timeout=5).json()
    print("Production domains now point at:")
    for alias in vercel["aliases"]:
        print(f"  {alias['alias']:<24} -> {alias['deploymentId']}")

    slack = requests.get(urls["slack"] + "/_fake/state", timeout=5).json()
    print(f"\nSlack messages ({len(slack['messages'])}):")
    for message in slack["messages"]:
        print(f"  [{message['channel']}]")
        for line in message["payload"].get("text", "").splitlines():
            print(f"    {line}")

    # Only runs that touched them say anything about Statuspage and PagerDuty.
    if "statuspage" in urls:
        statuspage = requests.get(urls["statuspage"].removesuffix("/v1") + "/_fake/state", timeout=5).json()
        incidents = [incident for page in statuspage["pages"] for incident in page.get("incidents", [])]
        if incidents:
            print(f"\nStatuspage incidents ({len(incidents)}):")
            for incident in incidents:
                print(f"  {incident['status']:<13} {incident['name']}")
    if "pagerduty" in urls:
        alerts = requests.get(urls["pagerduty"] + "/_fake/state", timeout=5).json()["alerts"]
        if alerts:
            print(f"\nPagerDuty alerts ({len(alerts)}):")
            for alert in alerts:
                print(f"  {alert['status']:<13} {alert['dedup_key']}: {alert['summary']}")

    print("\nAudit records:")
    for line in Path(args.audit).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        print(f"  {record['finished_at']}  {record['result']:<10} run {record['run_id']} by {record['operator']}"
              f"  domains moved: {len(record['changes'])}")
        database = record.get("database") or {}
        if database.get("restored"):
            print(f"    database restored from {record['backup']}; safety backup {database['safety_backup']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
