#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_stats_info
short_description: Read a PostgreSQL server's health for a diagnosis; connections, long queries, sizes
description:
  - Connects read-only and reads what O(gather) names, each under its own key of the result.
  - V(ping) times a C(SELECT 1) round trip and reads the server's version.
  - V(connections) counts the client sessions in C(pg_stat_activity), by state and by database, against
    C(max_connections).
  - V(long_queries) lists the statements running for more than O(long_query_seconds), longest first, leaving
    out this module's own session. Their text is cut to 500 characters, and every string constant in it is
    replaced by C(?), so that a password in C(ALTER ROLE ... PASSWORD '...'), or data, never leaves the server.
  - V(database_sizes) lists the databases the role may connect to, largest first; the others are left out.
  - When the connection fails, the task fails with one message that names user, host, port and database,
    never the password.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.postgres
attributes:
  check_mode:
    support: full
    details: Read-only; it reads the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  gather:
    description: What to read.
    type: list
    elements: str
    choices: [ping, connections, long_queries, database_sizes]
    default: [ping, connections, long_queries, database_sizes]
  long_query_seconds:
    description: A statement running longer than this many seconds is listed in RV(long_queries).
    type: float
    default: 300
notes:
  - Works for any role that may log in. PostgreSQL shows the state, the kind and the text of other roles'
    sessions only to superusers and members of C(pg_read_all_stats) (for example through C(pg_monitor)).
    For any other role, each of those sessions connected to a database counts as V(hidden) in
    RV(connections.by_state) (a background worker of another role among them), and their statements never
    appear in RV(long_queries); only its own roles' sessions do.
  - Unless the DSN or E(PGCONNECT_TIMEOUT) says otherwise, connecting gives up after 10 seconds.
  - The PostgreSQL client programs are not needed by this module, only psycopg2.
seealso:
  - module: runbook.ops.postgres_backup
  - name: The statistics views of PostgreSQL
    description: pg_stat_activity and what a role may see of it.
    link: https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW
"""

EXAMPLES = r"""
- name: Read the database's health
  runbook.ops.postgres_stats_info:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_URL') }}"
  register: database

- name: Say what is wrong
  ansible.builtin.debug:
    msg: >-
      {{ database.connections.percent }} % of the connections in use,
      {{ database.long_queries | length }} statement(s) running for more than 5 minutes
  when: database.connections.percent > 80 or database.long_queries

- name: Only the statements running for more than 30 seconds, as a monitoring role
  runbook.ops.postgres_stats_info:
    host: db1.internal
    user: monitor
    database: shop
    gather: [long_queries]
    long_query_seconds: 30
"""

RETURN = r"""
ping:
  description: A C(SELECT 1) round trip.
  returned: when O(gather) has V(ping)
  type: dict
  contains:
    ok:
      description: Whether the server answered 1.
      type: bool
    latency_ms:
      description: Milliseconds the round trip took.
      type: float
      sample: 0.4
    server_version:
      description: The server's version.
      type: str
      sample: "15.18"
connections:
  description: The client sessions (no background workers, no replication), as far as the role may see them.
  returned: when O(gather) has V(connections)
  type: dict
  contains:
    total:
      description: How many there are, this module's own included.
      type: int
      sample: 42
    max_connections:
      description: The server's C(max_connections).
      type: int
      sample: 100
    percent:
      description: RV(connections.total) as a percentage of RV(connections.max_connections).
      type: float
      sample: 42.0
    by_state:
      description: How many are in each state; V(hidden) counts the sessions whose state this role may not see.
      type: dict
      sample: {"active": 3, "idle": 37, "idle in transaction": 2}
    by_database:
      description: How many are connected to each database.
      type: dict
      sample: {"shop": 40, "postgres": 2}
long_queries:
  description: The statements running longer than O(long_query_seconds), longest first.
  returned: when O(gather) has V(long_queries)
  type: list
  elements: dict
  contains:
    pid:
      description: The process id of the session, for C(pg_cancel_backend()).
      type: int
    database:
      description: The database the session is connected to.
      type: str
    user:
      description: The role the session is logged in as.
      type: str
    application:
      description: The session's C(application_name).
      type: str
    state:
      description: V(active), or V(fastpath function call).
      type: str
    seconds:
      description: How long the statement has been running.
      type: float
      sample: 312.4
    query:
      description: The statement, cut to 500 characters, every string constant replaced by C(?).
      type: str
      sample: "UPDATE orders SET status = ? WHERE created < now() - interval ?"
database_sizes:
  description: The databases the role may connect to, largest first.
  returned: when O(gather) has V(database_sizes)
  type: list
  elements: dict
  contains:
    name:
      description: The database.
      type: str
      sample: shop
    bytes:
      description: Its size on disk in bytes.
      type: int
      sample: 73400320
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, connect, describe
from ansible_collections.runbook.ops.plugins.module_utils._postgres_options import (
    postgres_argument_spec,
    postgres_settings,
)
from ansible_collections.runbook.ops.plugins.module_utils._stats import PARTS, gather

CONNECT_TIMEOUT = "10"


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            gather={"type": "list", "elements": "str", "choices": list(PARTS), "default": list(PARTS)},
            long_query_seconds={"type": "float", "default": 300},
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["long_query_seconds"] < 0:
        module.fail_json(msg=f"long_query_seconds must be 0 or more, not {params['long_query_seconds']:g}.")

    settings = postgres_settings(module)
    # A diagnosis must not hang on a server that does not answer; libpq alone would wait forever.
    if not os.environ.get("PGCONNECT_TIMEOUT"):
        settings.setdefault("connect_timeout", CONNECT_TIMEOUT)
    # What the DBA sees in pg_stat_activity, unless the connection names an application itself.
    settings["fallback_application_name"] = "runbook.ops.postgres_stats_info"
    try:
        connection = connect(settings, autocommit=True)
        try:
            connection.readonly = True
            gathered = gather(connection, dict.fromkeys(params["gather"]), describe(settings),
                              long_query_seconds=params["long_query_seconds"])
        finally:
            connection.close()
    except PostgresError as exc:
        module.fail_json(msg=str(exc))

    module.exit_json(changed=False, **gathered)


if __name__ == "__main__":
    main()
