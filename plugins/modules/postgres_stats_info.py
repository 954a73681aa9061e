#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_stats_info
short_description: Read a PostgreSQL server's health; connections, long and slow queries, sizes, unused indexes,
  numbers of your own
description:
  - Connects read-only and reads what O(gather) names, each under its own key of the result.
  - V(ping) times a C(SELECT 1) round trip and reads the server's version.
  - V(connections) counts the client sessions in C(pg_stat_activity), by state and by database, against
    C(max_connections).
  - V(long_queries) lists the statements running for more than O(long_query_seconds), longest first, leaving
    out this module's own session. Their text is cut to 500 characters, and every string constant in it is
    replaced by C(?), so that a password in C(ALTER ROLE ... PASSWORD '...'), or data, never leaves the server.
  - V(database_sizes) lists the databases the role may connect to, largest first; the others are left out.
  - V(slow_statements) lists, from the extension C(pg_stat_statements), the O(slow_statement_top) statements of
    the database slowest on average, if slower than O(slow_statement_ms). Their text is cut and masked as
    for V(long_queries). When the extension is not installed in the database, or cannot be read, the result
    says so (RV(slow_statements.available) is false, with the reason) and the task does not fail.
  - V(table_sizes) gives the database's size and its O(size_top) largest tables, with what their rows,
    indexes and TOAST take, and V(index_sizes) its O(size_top) largest indexes.
  - V(unused_indexes) lists the indexes that no scan has used since the statistics were last reset, with
    their sizes; indexes that enforce a primary key, a unique or an exclusion constraint, or uniqueness of
    their own, are left out, since dropping them would change what the table accepts.
  - V(queries) runs each query of O(queries), which must return exactly one row with one column, a number
    or NULL, and returns the numbers under their names in RV(queries). Each runs in a C(READ ONLY)
    transaction of its own, which is then rolled back, and PostgreSQL cancels it after O(query_timeout)
    seconds. A query that tries to write is refused by the server and changes nothing.
  - A query that fails, runs too long or returns anything else (no row, two rows, two columns, text) fails the
    task with a message that names the query and gives PostgreSQL's reason, but not the query's text.
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
    choices: [ping, connections, long_queries, database_sizes, slow_statements, table_sizes, index_sizes,
              unused_indexes, queries]
    default: [ping, connections, long_queries, database_sizes]
  long_query_seconds:
    description: A statement running longer than this many seconds is listed in RV(long_queries).
    type: float
    default: 300
  slow_statement_ms:
    description: A statement whose mean time is more than this many milliseconds is listed in RV(slow_statements).
    type: float
    default: 1000
  slow_statement_top:
    description: How many statements RV(slow_statements) lists at most, the slowest first.
    type: int
    default: 10
  size_top:
    description: How many tables RV(table_sizes) and how many indexes RV(index_sizes) list at most, the largest first.
    type: int
    default: 20
  queries:
    description:
      - For V(queries) in O(gather), the numbers to read, as a name and one SQL statement each, for example
        V(SELECT count(DISTINCT user_id\) FROM sessions WHERE seen > now(\) - interval '1 hour').
      - A name is lower-case letters, digits and underscores, not starting with a digit; it is the key of its
        number in RV(queries).
      - Each query must be one statement, and return exactly one row with one column of a number type
        (C(smallint), C(integer), C(bigint), C(real), C(double precision) or C(numeric)), or NULL. Use an
        aggregate such as C(count) or C(max) for one row, and cast a column of another type.
      - They run as written, without parameters; do not build them from values an outsider can set.
    type: dict
  query_timeout:
    description:
      - Seconds each query of O(queries) may run before PostgreSQL cancels it and the task fails.
      - Reading a table waits for a lock that a migration holds on it; this bounds the wait.
    type: float
    default: 30
notes:
  - Works for any role that may log in. PostgreSQL shows the state, the kind and the text of other roles'
    sessions only to superusers and members of C(pg_read_all_stats) (for example through C(pg_monitor)).
    For any other role, each of those sessions connected to a database counts as V(hidden) in
    RV(connections.by_state) (a background worker of another role among them), and their statements never
    appear in RV(long_queries); only its own roles' sessions do.
  - C(pg_stat_statements) keeps the statements of every database and role; RV(slow_statements) shows those of
    the database connected to. It needs C(shared_preload_libraries=pg_stat_statements) and a restart, then
    C(CREATE EXTENSION pg_stat_statements) in the database. Its texts of other roles' statements, too, are
    shown only to superusers and members of C(pg_read_all_stats); to others they read
    C(<insufficient privilege>).
  - The scan counts of RV(unused_indexes) are the server's own since the statistics were reset (see
    RV(unused_indexes.since)), or lost by a crash; a standby counts its own scans, so an index used only by
    the queries of a replica looks unused on the primary.
  - The read-only transaction of O(queries) guards against a query that writes by mistake, not against a role
    that may write choosing to (through an extension such as C(dblink), for example); give the task a role
    that may only read what the queries need.
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
  when: database.connections.percent > 80 or database.long_queries | length > 0

- name: The slowest statements, the largest tables and the indexes no query uses
  runbook.ops.postgres_stats_info:
    gather: [slow_statements, table_sizes, index_sizes, unused_indexes]
    slow_statement_ms: 500
    size_top: 10
  register: report

- name: Say what could be dropped
  ansible.builtin.debug:
    msg: >-
      {{ report.unused_indexes.indexes | length }} index(es) unused since
      {{ report.unused_indexes.since | default('the statistics began', true) }}:
      {{ report.unused_indexes.indexes | map(attribute='index') | join(', ') }}
  when: report.unused_indexes.indexes | length > 0

- name: Active users of the last hour, a number for the hourly check
  runbook.ops.postgres_stats_info:
    gather: [queries]
    queries:
      active_users: SELECT count(DISTINCT user_id) FROM sessions WHERE seen > now() - interval '1 hour'
      oldest_unpaid_hours: SELECT extract(epoch FROM now() - min(created)) / 3600 FROM billing.invoices WHERE NOT paid
    query_timeout: 5
  register: hourly

- name: Only the statements running for more than 30 seconds, as a monitoring role
  runbook.ops.postgres_stats_info:
    host: "{{ db_host }}"
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
slow_statements:
  description: The statements of the database slowest on average, from C(pg_stat_statements).
  returned: when O(gather) has V(slow_statements)
  type: dict
  contains:
    available:
      description: Whether C(pg_stat_statements) could be read.
      type: bool
    reason:
      description: Why not, when RV(slow_statements.available) is false; null otherwise.
      type: str
      sample: "the extension pg_stat_statements is not installed in the database shop: ..."
    since:
      description: When the extension's counts were last reset (PostgreSQL 14 and newer record it), in ISO 8601.
      type: str
      sample: "2026-11-01T03:00:00.123456+00:00"
    statements:
      description: The statements slower on average than O(slow_statement_ms), the slowest first,
        O(slow_statement_top) at most; empty when RV(slow_statements.available) is false.
      type: list
      elements: dict
      contains:
        user:
          description: The role that ran it.
          type: str
        calls:
          description: How many times it ran.
          type: int
          sample: 1204
        mean_ms:
          description: Its mean time in milliseconds.
          type: float
          sample: 1523.7
        total_ms:
          description: Its time in all, in milliseconds.
          type: float
          sample: 1834534.8
        rows:
          description: The rows it returned or changed, in all.
          type: int
        query:
          description: The statement as C(pg_stat_statements) normalized it, cut to 500 characters, every
            string constant replaced by C(?).
          type: str
          sample: "SELECT * FROM orders WHERE customer_id = $1 AND status = ?"
table_sizes:
  description: The database's size and its largest tables.
  returned: when O(gather) has V(table_sizes)
  type: dict
  contains:
    database_bytes:
      description: The database's size on disk in bytes.
      type: int
      sample: 73400320
    tables:
      description: The O(size_top) largest tables and materialized views, largest first; a partitioned table's
        partitions are listed each on its own.
      type: list
      elements: dict
      contains:
        table:
          description: The table, as C(schema.table).
          type: str
          sample: public.orders
        total_bytes:
          description: All it takes on disk, the sum of the three below.
          type: int
        table_bytes:
          description: What its rows take, with its free space and visibility maps.
          type: int
        index_bytes:
          description: What its indexes take.
          type: int
        toast_bytes:
          description: What its TOAST table (long values kept apart) and its index take.
          type: int
        estimated_rows:
          description: The planner's estimate of its rows, as of its last VACUUM or ANALYZE; null before the first.
          type: int
          sample: 120000
index_sizes:
  description: The O(size_top) largest indexes of the database's tables, largest first; for a partitioned table,
    the indexes of its partitions.
  returned: when O(gather) has V(index_sizes)
  type: list
  elements: dict
  contains:
    index:
      description: The index, as C(schema.index).
      type: str
      sample: public.orders_pkey
    table:
      description: Its table, as C(schema.table).
      type: str
    bytes:
      description: Its size on disk in bytes.
      type: int
    scans:
      description: How many index scans used it since the statistics were reset.
      type: int
unused_indexes:
  description: The indexes no scan has used since the statistics were reset, largest first.
  returned: when O(gather) has V(unused_indexes)
  type: dict
  contains:
    since:
      description: When the database's statistics were last reset (C(stats_reset) of C(pg_stat_database)), in
        ISO 8601; null when they never were, so that the counts run from the database's creation or the last
        crash.
      type: str
      sample: "2026-06-01T00:00:00+00:00"
    indexes:
      description: The unused indexes, without those that enforce a primary key, a unique or an exclusion
        constraint, or uniqueness of their own.
      type: list
      elements: dict
      contains:
        index:
          description: The index, as C(schema.index).
          type: str
          sample: public.orders_note_idx
        table:
          description: Its table, as C(schema.table).
          type: str
        bytes:
          description: Its size on disk in bytes.
          type: int
queries:
  description:
    - The number each query of O(queries) returned, under its name, in the order given; null for a NULL.
    - An integer, or a C(numeric) written without decimals, is an integer; any other value is a float.
  returned: when O(gather) has V(queries)
  type: dict
  sample: {"active_users": 412, "oldest_unpaid_hours": 30.5}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, connect
from ansible_collections.runbook.ops.plugins.module_utils._postgres_options import (
    postgres_argument_spec,
    unattended_settings,
)
from ansible_collections.runbook.ops.plugins.module_utils._stats import DEFAULT_PARTS, PARTS, gather, query_problems


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            gather={"type": "list", "elements": "str", "choices": list(PARTS), "default": DEFAULT_PARTS},
            long_query_seconds={"type": "float", "default": 300},
            slow_statement_ms={"type": "float", "default": 1000},
            slow_statement_top={"type": "int", "default": 10},
            size_top={"type": "int", "default": 20},
            queries={"type": "dict"},
            query_timeout={"type": "float", "default": 30},
        ),
        supports_check_mode=True,
    )
    params = module.params
    for option in ("long_query_seconds", "slow_statement_ms"):
        if params[option] < 0:
            module.fail_json(msg=f"{option} must be 0 or more, not {params[option]:g}.")
    for option in ("slow_statement_top", "size_top"):
        if params[option] < 1:
            module.fail_json(msg=f"{option} must be 1 or more, not {params[option]}.")
    queries = params["queries"] or {}
    if "queries" in params["gather"] and not queries:
        module.fail_json(msg="gather names queries, but the option queries is empty: give it a name and a SQL query "
                             "for each number to read.")
    if queries and "queries" not in params["gather"]:
        module.fail_json(msg="queries is set, but gather does not name queries; add queries to gather.")
    if not 0 < params["query_timeout"] <= 86400:
        module.fail_json(msg=f"query_timeout must be more than 0 and at most 86400 seconds, not "
                             f"{params['query_timeout']:g}.")
    problems = query_problems(queries)
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was run.")

    settings, where = unattended_settings(module, "postgres_stats_info")
    try:
        connection = connect(settings, autocommit=True)
        try:
            connection.readonly = True
            gathered = gather(connection, dict.fromkeys(params["gather"]), where,
                              long_query_seconds=params["long_query_seconds"],
                              slow_statement_ms=params["slow_statement_ms"],
                              slow_statement_top=params["slow_statement_top"], size_top=params["size_top"],
                              queries=queries, query_timeout=params["query_timeout"])
        finally:
            connection.close()
    except PostgresError as exc:
        module.fail_json(msg=str(exc))

    module.exit_json(changed=False, **gathered)


if __name__ == "__main__":
    main()
