#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_maintenance
short_description: ANALYZE, VACUUM (ANALYZE) and REINDEX a PostgreSQL database's tables, with timings
description:
  - Runs each of O(operations), in the order given, over every table of O(tables), one statement per table,
    and returns how long each step took in RV(steps).
  - V(analyze) runs C(ANALYZE), V(vacuum_analyze) runs C(VACUUM) with its C(ANALYZE) option, and V(reindex) runs
    C(REINDEX TABLE), with C(CONCURRENTLY) as O(concurrently) says, so that the table can still be written
    while its indexes are rebuilt.
  - Each statement runs on its own, outside a transaction, as C(VACUUM) and C(REINDEX CONCURRENTLY) require.
  - Every name in O(tables) is checked before anything runs; names that are not tables of the database fail
    the task, all of them named, and nothing runs.
  - With O(min_interval_hours), a table analyzed (or vacuumed and analyzed) more recently than that, by hand
    or by autovacuum, as C(pg_stat_user_tables) records it, is passed over. A re-run after a failure then does
    not redo the hours of work already done, and a second run reports no change. PostgreSQL keeps no record of
    a C(REINDEX), so it always runs, and a run that has V(reindex) among O(operations) always reports a change.
  - A table this role may not maintain is passed over, with the reason in RV(steps) and a warning, and so is a
    C(REINDEX) of a table without an index.
  - A step that waits longer than O(lock_timeout) for a lock, for example behind a migration that holds the
    table, fails the task with one message that names the table, the operation and the sessions holding a
    lock on it. The steps that ran before it are in RV(steps); the ones after it do not run.
  - Indexes left invalid, such as the C(_ccnew) index of an interrupted C(REINDEX CONCURRENTLY), are reported
    in RV(invalid_indexes), never dropped.
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
    details: Connects, checks the tables and reports in RV(steps) and RV(msg) what would run and what would be
      passed over; runs nothing.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: With O(min_interval_hours), a second run passes over the tables the first one analyzed or vacuumed
      and reports no change. Without it, and for V(reindex) always, every run runs again.
options:
  operations:
    description: What to run, in this order; each operation runs over every table before the next begins.
    type: list
    elements: str
    choices: [analyze, vacuum_analyze, reindex]
    required: true
  tables:
    description:
      - The tables, as V(table) (found through the search path, as C(ANALYZE table) would) or as
        V(schema.table), spelt as in the catalog, without quotes. Materialized views count as tables.
      - Empty, every table of the database that is not a partition, in every schema but the system's. An
        operation on a partitioned table covers its partitions.
    type: list
    elements: str
    default: []
  concurrently:
    description:
      - For V(reindex), whether to rebuild the indexes with C(REINDEX TABLE CONCURRENTLY), which lets the
        table be written meanwhile but takes longer.
      - V(auto) when the server supports it (PostgreSQL 12 and newer); V(always) fails on older servers, before
        anything runs; V(never) locks writes to the table while its indexes are rebuilt.
    type: str
    choices: [auto, always, never]
    default: auto
  lock_timeout:
    description:
      - Seconds a step may wait for a lock on its table before it is stopped and the task fails. V(0) waits for
        as long as it takes.
      - It is PostgreSQL's C(lock_timeout), set for the session; it bounds each wait, not the step's work.
    type: float
    default: 10
  min_interval_hours:
    description:
      - When more than 0, V(analyze) passes over a table whose last analyze or autoanalyze is more recent than
        this many hours, and V(vacuum_analyze) one whose last (auto)vacuum and last (auto)analyze both are.
      - A partitioned table counts as vacuumed when the last of its partitions was.
      - V(reindex) is never passed over for it, since PostgreSQL keeps no record of a C(REINDEX).
    type: float
    default: 0
notes:
  - C(ANALYZE) and C(VACUUM) need the table's owner, the database's owner or a superuser; C(REINDEX), the
    table's owner or a superuser; from PostgreSQL 17 on, the C(MAINTAIN) privilege is enough for both.
  - The session's C(statement_timeout) is turned off, since a role's setting meant for the application's
    queries would cancel a C(VACUUM) of a large table.
  - The settings are made for the session, so connect to the server itself or through a pooler in session
    mode, not in transaction mode.
  - If the job is killed while a C(REINDEX CONCURRENTLY) runs, the server may leave a C(_ccnew) index
    behind, invalid; the next run reports it in RV(invalid_indexes). Drop it with C(DROP INDEX CONCURRENTLY)
    and run the C(REINDEX) again. An index that another session is building at that moment shows as
    invalid too.
  - C(REINDEX CONCURRENTLY) passes over an invalid index, with a warning of PostgreSQL's; a C(REINDEX) without
    it rebuilds the index, and fails when what made the index invalid (a duplicate value for a unique index)
    is still there.
  - Unless the DSN or E(PGCONNECT_TIMEOUT) says otherwise, connecting gives up after 10 seconds.
  - The PostgreSQL client programs are not needed by this module, only psycopg2.
seealso:
  - module: runbook.ops.postgres_stats_info
  - name: Routine vacuuming
    description: What VACUUM and ANALYZE do and when autovacuum runs them.
    link: https://www.postgresql.org/docs/current/routine-vacuuming.html
  - name: REINDEX
    description: Rebuilding indexes concurrently, and what an interrupted rebuild leaves behind.
    link: https://www.postgresql.org/docs/current/sql-reindex.html#SQL-REINDEX-CONCURRENTLY
"""

EXAMPLES = r"""
- name: Refresh the planner's statistics of the whole database, unless autovacuum did in the last 12 hours
  runbook.ops.postgres_maintenance:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_URL') }}"
    operations: [analyze]
    min_interval_hours: 12
  register: analyzed

- name: Vacuum and reindex the busiest tables, waiting at most 30 seconds for each lock
  runbook.ops.postgres_maintenance:
    host: "{{ db_host }}"
    user: shop_admin
    database: shop
    operations: [vacuum_analyze, reindex]
    tables: [orders, public.order_lines, billing.invoices]
    lock_timeout: 30
  register: maintained

- name: Say which indexes an interrupted rebuild left behind
  ansible.builtin.debug:
    msg: "Invalid indexes to drop and rebuild: {{ maintained.invalid_indexes | join(', ') }}"
  when: maintained.invalid_indexes | length > 0
"""

RETURN = r"""
steps:
  description:
    - One entry per operation and table, in the order they ran; in check mode, as they would run.
    - When a step fails, the steps before it; the failing one is named in RV(msg).
  returned: when the tables were read
  type: list
  elements: dict
  contains:
    operation:
      description: V(analyze), V(vacuum_analyze) or V(reindex).
      type: str
    table:
      description: The table, as C(schema.table).
      type: str
      sample: public.orders
    seconds:
      description: How long the statement took; null when it did not run.
      type: float
      sample: 12.351
    skipped:
      description: Null when the step ran (or would run, in check mode), else why it was passed over.
      type: str
      sample: "analyzed 2.5 h ago, within min_interval_hours (12)"
duration:
  description: Seconds the whole task took.
  returned: always
  type: float
  sample: 95.204
invalid_indexes:
  description: Every index of the database left invalid, as C(schema.index); reported, never dropped.
  returned: always
  type: list
  elements: str
  sample: [public.orders_created_idx_ccnew]
server_version:
  description: The server's version.
  returned: when connected
  type: str
  sample: "15.18"
msg:
  description: What ran, or in check mode what would run, and what was passed over.
  returned: always
  type: str
  sample: "Would run ANALYZE on 12 table(s); 3 step(s) passed over. Nothing was run."
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._maintenance import (
    CONCURRENT_REINDEX,
    StepFailed,
    choose,
    command,
    invalid_indexes,
    run_steps,
    user_tables,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres import (
    PostgresError,
    connect,
    psycopg2,
    readable,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres_options import (
    postgres_argument_spec,
    unattended_settings,
)


def validate(params):
    """What is wrong with the options, before connecting."""
    problems = []
    if not params["operations"]:
        problems.append("operations must name at least one of analyze, vacuum_analyze, reindex.")
    if any(not name.strip() for name in params["tables"]):
        problems.append("tables holds an empty name.")
    if params["lock_timeout"] < 0:
        problems.append(f"lock_timeout must be 0 or more, not {params['lock_timeout']:g}.")
    if params["min_interval_hours"] < 0:
        problems.append(f"min_interval_hours must be 0 or more, not {params['min_interval_hours']:g}.")
    return problems


def reindex_concurrently(choice, version):
    """Whether REINDEX runs CONCURRENTLY on this server."""
    if choice == "always" and version < CONCURRENT_REINDEX:
        raise PostgresError(f"concurrently is always, but PostgreSQL {readable(version)} cannot REINDEX "
                            "CONCURRENTLY (12 and newer can); set concurrently to auto or never.")
    return choice == "always" or (choice == "auto" and version >= CONCURRENT_REINDEX)


def summary(steps, concurrently, check_mode):
    """``Ran ANALYZE on 3 table(s); 1 step(s) passed over.``"""
    counts = {}
    for step in steps:
        if step["skipped"] is None:
            counts[step["operation"]] = counts.get(step["operation"], 0) + 1
    done = ", ".join(f"{command(operation, concurrently)} on {count} table(s)" for operation, count in counts.items())
    passed_over = sum(step["skipped"] is not None for step in steps)
    line = f"{'Would run' if check_mode else 'Ran'} {done}" if done else \
        f"{'Would run' if check_mode else 'Ran'} nothing"
    if passed_over:
        line += f"; {passed_over} step(s) passed over, see steps"
    return line + (". Nothing was run." if check_mode else ".")


def maintain(connection, params, operations, names, check_mode, where, result):
    """Read the tables, then run the steps into ``result``. Returns whether REINDEX runs CONCURRENTLY, and the
    message of the step that failed, or None."""
    version = connection.server_version
    result["server_version"] = readable(version)
    concurrently = reindex_concurrently(params["concurrently"], version) if "reindex" in operations else False
    with connection.cursor() as cursor:
        # A role's statement_timeout, meant for the application's queries, would cancel a long VACUUM.
        cursor.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', '0', false)",
                       (f"{int(params['lock_timeout'] * 1000)}ms",))
        tables, unknown = choose(user_tables(cursor, version), names)
        if unknown:
            raise PostgresError(f"Not tables of {where}: {', '.join(unknown)}. Name each in tables as table (found "
                                "through the search path) or schema.table, spelt as in the catalog. Nothing was run.")
        steps, failed = result.setdefault("steps", []), None
        try:
            run_steps(cursor, operations, tables, steps, check_mode=check_mode, concurrently=concurrently,
                      min_interval_hours=params["min_interval_hours"], lock_timeout=params["lock_timeout"],
                      version=version)
        except StepFailed as exc:
            failed = str(exc)
        try:
            result["invalid_indexes"] = invalid_indexes(cursor)
        except psycopg2.Error:
            # After a failed step the connection may be gone; that step's message matters more.
            if failed is None:
                raise
    return concurrently, failed


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            operations={"type": "list", "elements": "str", "choices": ["analyze", "vacuum_analyze", "reindex"],
                        "required": True},
            tables={"type": "list", "elements": "str", "default": []},
            concurrently={"type": "str", "choices": ["auto", "always", "never"], "default": "auto"},
            lock_timeout={"type": "float", "default": 10},
            min_interval_hours={"type": "float", "default": 0},
        ),
        supports_check_mode=True,
    )
    params = module.params
    started = time.monotonic()
    result = {"invalid_indexes": []}
    problems = validate(params)
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was run.", duration=0.0, **result)
    # The same operation twice would only do the work twice.
    operations = list(dict.fromkeys(params["operations"]))
    names = [name.strip() for name in params["tables"]]

    settings, where = unattended_settings(module, "postgres_maintenance")
    try:
        # VACUUM and REINDEX CONCURRENTLY refuse to run inside a transaction block.
        connection = connect(settings, autocommit=True)
        try:
            concurrently, failed = maintain(connection, params, operations, names, module.check_mode, where, result)
        finally:
            connection.close()
    except PostgresError as exc:
        module.fail_json(msg=str(exc), duration=round(time.monotonic() - started, 3), **result)
    except psycopg2.Error as exc:
        # Reading the catalog failed: before the steps, or (rarely) the invalid indexes after them.
        ran = not module.check_mode and any(step["skipped"] is None for step in result.get("steps", []))
        module.fail_json(msg=f"Cannot read the catalog of {where}: {' '.join(str(exc).split())}."
                             f"{'' if ran else ' Nothing was run.'}",
                         changed=ran, duration=round(time.monotonic() - started, 3), **result)

    steps = result["steps"]
    changed = any(step["skipped"] is None for step in steps)
    duration = round(time.monotonic() - started, 3)
    if failed:
        module.fail_json(msg=failed, changed=changed, duration=duration, **result)
    denied = sorted({step["table"] for step in steps if (step["skipped"] or "").startswith("this role")})
    if denied:
        module.warn(f"This role may not maintain {len(denied)} table(s), passed over: {', '.join(denied)}.")
    if result["invalid_indexes"]:
        module.warn(f"Indexes left invalid: {', '.join(result['invalid_indexes'])}. Drop each with DROP INDEX "
                    "CONCURRENTLY (one ending in _ccnew or _ccold is left over from an interrupted REINDEX "
                    "CONCURRENTLY), then run the REINDEX again.")
    module.exit_json(changed=changed, duration=duration, msg=summary(steps, concurrently, module.check_mode),
                     **result)


if __name__ == "__main__":
    main()
