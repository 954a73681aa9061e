#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_archive
short_description: Move a table's old rows into its archive table, in bounded batches that are safe to interrupt
description:
  - Moves the rows of O(table) whose O(column) is older than a cutoff into O(archive_table), in batches of
    about O(batch_size) rows. The cutoff is O(older_than_days) days before now, or O(before); it is computed
    once, on the server, at the start, and every batch uses it.
  - Each batch is one transaction holding one statement that deletes the old rows of a range of the table's
    pages and inserts the same rows into the archive table. A batch moves all its rows or none, so a run that
    fails, is cancelled or is killed at any point has lost no row and copied none twice; running again goes on
    where it stopped.
  - The run reads the table once, from its first page to its last as they were at the start, each batch a
    range of pages (a TID Range Scan, PostgreSQL 14 or newer). So every batch costs about the same, however
    many batches went before, and the memory of the module stays flat however many rows move, since no row ever
    leaves the server.
  - When the archive table is missing it is created (unless O(create_archive=false)) with the source's column
    names, types and C(NOT NULL) constraints, without its defaults, identities, constraints or indexes, plus an index on
    O(column).
  - An existing archive table is checked before anything moves. Every column of the source must be in it with
    a type that holds its values unchanged, the same type or a wider one (a C(varchar) at least as long, or
    C(text), for a C(varchar); C(int4), C(int8) or C(numeric) for an C(int2); C(int8) or C(numeric) for an C(int4);
    a C(numeric) with at least as many digits before and after the point). None of them may be a generated
    column, and a C(NOT NULL) column without a default that the source lacks is refused. Every problem is
    listed, and nothing moves.
  - Only one run at a time moves rows of a table; a second one fails at once, naming the session of the first.
  - A failure after some batches (a lock or statement timeout, a lost connection, a cancelled job) fails the
    task with one message that says how many rows were moved already and that running again continues safely;
    the result carries RV(rows_moved) and RV(batches) too.
  - Connection failures name user, host, port and database, never the password.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.postgres
attributes:
  check_mode:
    support: full
    details: Checks everything a run checks, then counts, range by range, the rows that would move (within
      O(max_batches)); moves nothing and creates no table.
  diff_mode:
    support: full
    details: Shows the archive table it creates, and the rows moved.
  idempotent:
    support: full
    details: A second run finds no row older than the same cutoff and reports no change. With
      O(older_than_days), the cutoff moves on with time, as intended.
options:
  table:
    description:
      - The table to archive, V(name) (found on the search path) or V(schema.name).
      - Names are read as in SQL, in lower case unless double-quoted; a name with capitals, spaces or dots is
        written in double quotes, for example V('"Sales"."Order Log"').
      - A partitioned table is refused; archive its partitions, or detach old ones.
    type: str
    required: true
  archive_table:
    description:
      - The table the rows move into, V(name) or V(schema.name), read as O(table) is.
      - A name without a schema is in the schema of O(table).
      - Default C(<table>_archive) beside O(table).
    type: str
  column:
    description:
      - The column of O(table) whose age decides which rows move, of type C(timestamp), C(timestamptz) or C(date).
      - Read as a name in SQL, like O(table).
    type: str
    required: true
  older_than_days:
    description:
      - Move the rows older than this many days before now (the server's clock).
      - 0 moves every row older than now. A negative number is refused.
      - Give this or O(before), not both.
    type: int
  before:
    description:
      - Move the rows older than this moment, an ISO 8601 date or date and time, such as V(2026-01-01) or
        V(2026-01-01T00:00:00+09:00).
      - Without an offset it is read in the session's time zone (the server's C(TimeZone) unless the role or
        E(PGTZ) sets another).
      - Give this or O(older_than_days), not both.
    type: str
  batch_size:
    description:
      - About how many rows one batch moves. Each batch holds locks on its rows until it commits, so smaller
        batches mean shorter waits for the application; larger ones, fewer round trips.
      - Batches are ranges of pages sized from the rows per page of a sample of the table, so a batch holds
        about this many rows, and fewer where the table holds fewer old rows.
    type: int
    default: 10000
  max_batches:
    description:
      - Stop after this many batches; RV(complete) is then false, and the next run goes on.
      - Only batches that moved rows count.
    type: int
  pause:
    description: Seconds to wait after each batch that moved rows, so that replicas and vacuum keep up.
    type: float
    default: 0
  lock_timeout:
    description:
      - Seconds a statement may wait for a lock (on the table, or on a row another session is changing) before
        it fails; the batch then moves nothing and the task fails with what moved before it.
    type: float
    default: 5
  statement_timeout:
    description: Seconds one statement, one batch among them, may run before PostgreSQL cancels it.
    type: float
    default: 60
  create_archive:
    description: Create the archive table when it is missing; with V(false), a missing archive table fails the task.
    type: bool
    default: true
notes:
  - The role needs C(SELECT) and C(DELETE) on O(table), C(INSERT) on O(archive_table), and C(CREATE) on the schema
    when the archive table is to be created. Check mode checks these too.
  - The module needs a session of its own, for its advisory lock and its timeouts; connect directly or through a
    pooler in session mode, not transaction mode.
  - A C(timestamp) (without time zone) column is compared in the session's time zone, as PostgreSQL compares it
    with a moment. For a C(date) column, a day moves once all of it is older than the cutoff.
  - Rows written or updated during a run into pages the run has already read, and pages added after it started,
    wait for the next run.
  - Constraints, unique indexes and triggers of the archive table still apply; a row one of them refuses stops
    the batch, which then moves nothing. A trigger or rule that drops rows rolls its batch back too.
  - A table referenced by foreign keys of other tables cannot lose rows those still reference; the batch that
    tries fails, and nothing of it moves.
  - Unless the DSN or E(PGCONNECT_TIMEOUT) says otherwise, connecting gives up after 10 seconds.
  - The PostgreSQL client programs are not needed by this module, only psycopg2.
seealso:
  - module: runbook.ops.postgres_stats_info
  - name: TID Range Scan and the ctid system column
    description: How a range of a table's pages is read.
    link: https://www.postgresql.org/docs/current/ddl-system-columns.html
  - name: Advisory locks
    description: The lock that keeps two runs from archiving one table at once.
    link: https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
"""

EXAMPLES = r"""
- name: Move the operation logs older than 90 days into operation_logs_archive
  runbook.ops.postgres_archive:
    table: operation_logs
    column: created_at
    older_than_days: 90
  register: archived

- name: Say what moved
  ansible.builtin.debug:
    msg: "{{ archived.rows_moved }} rows in {{ archived.batches }} batches, older than {{ archived.cutoff }}"

- name: Move last year's audit log into another schema, gently, at most 200 batches tonight
  runbook.ops.postgres_archive:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_URL') }}"
    table: audit.audit_log
    archive_table: archive.audit_log_2025
    column: '"timestamp"'
    before: "2026-01-01T00:00:00+09:00"
    batch_size: 5000
    pause: 0.2
    max_batches: 200

- name: Check, before a maintenance window, that the archive table can hold the rows and how many would move
  runbook.ops.postgres_archive:
    table: operation_logs
    column: created_at
    older_than_days: 90
    create_archive: false
  check_mode: true
"""

RETURN = r"""
table:
  description: The table archived, schema-qualified, quoted where a name needs it.
  returned: when the table was found
  type: str
  sample: public.operation_logs
archive_table:
  description: The archive table, schema-qualified, quoted where a name needs it.
  returned: when the table was found
  type: str
  sample: public.operation_logs_archive
cutoff:
  description:
    - The cutoff in ISO 8601, in the column's type (with an offset for C(timestamptz), without one for
      C(timestamp), a day for C(date)); rows with an earlier value move.
  returned: when the cutoff was computed
  type: str
  sample: "2026-03-03T09:15:02.481516+00:00"
rows_moved:
  description:
    - Rows moved into the archive table, by the batches that committed.
    - In check mode, the rows that would move.
  returned: always
  type: int
  sample: 1204518
batches:
  description:
    - Batches that moved rows (in check mode, that would).
  returned: always
  type: int
  sample: 121
duration:
  description: Seconds the task took, connecting and checking included.
  returned: always
  type: float
  sample: 14.203
longest_batch:
  description: Seconds the longest batch took (in check mode, the longest count of a range).
  returned: always
  type: float
  sample: 0.182
archive_created:
  description: Whether the archive table was created by this run (in check mode, would be).
  returned: always
  type: bool
complete:
  description:
    - Whether the run read the whole table; false when O(max_batches) or a failure stopped it before the end,
      and rows older than the cutoff may be left.
  returned: always
  type: bool
msg:
  description: What was done, in one sentence.
  returned: success
  type: str
  sample: Moved 1204518 row(s) of public.operation_logs older than 2026-03-03T09:15:02+00:00 into
    public.operation_logs_archive in 121 batch(es).
"""

import signal
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._archive import (
    Archiver,
    archive_ddl,
    archive_problems,
    check_server,
    compute_cutoff,
    create_archive,
    cutoff_column,
    find_archive,
    find_source,
    parse_before,
    privilege_problems,
    reason_of,
    set_session,
    take_lock,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, connect, psycopg2
from ansible_collections.runbook.ops.plugins.module_utils._postgres_options import (
    postgres_argument_spec,
    unattended_settings,
)

LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
FOREIGN_KEY_VIOLATION = "23503"


def validate(params):
    problems = []
    # A null (before: null) passes required_one_of, which counts the options named, not their values.
    if params["older_than_days"] is None and params["before"] is None:
        problems.append("Give older_than_days or before, the age of the rows to move.")
    if params["older_than_days"] is not None and params["older_than_days"] < 0:
        problems.append(f"older_than_days must be 0 or more, not {params['older_than_days']}: a negative age "
                        "would reach into the future.")
    if params["batch_size"] <= 0:
        problems.append(f"batch_size must be more than 0 rows, not {params['batch_size']}.")
    if params["max_batches"] is not None and params["max_batches"] <= 0:
        problems.append(f"max_batches must be more than 0, not {params['max_batches']}; leave it out for no bound.")
    if params["pause"] < 0:
        problems.append(f"pause must be 0 or more seconds, not {params['pause']:g}.")
    for option in ("lock_timeout", "statement_timeout"):
        if not 0 < params[option] <= 86400:
            problems.append(f"{option} must be more than 0 and at most 86400 seconds, not {params[option]:g}.")
    if params["before"] is not None:
        try:
            params["before"] = parse_before(params["before"])
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def explain(exc, params, where):
    """The reason an operator reads for a failed statement, with what to do about it."""
    if not isinstance(exc, psycopg2.Error):
        return str(exc)
    reason = reason_of(exc)
    if exc.pgcode == LOCK_NOT_AVAILABLE:
        return (f"a statement waited longer than lock_timeout ({params['lock_timeout']:g} s) for a lock ({reason}); "
                "another session holds the table or some of its rows (a migration, a long transaction).")
    if exc.pgcode == QUERY_CANCELED:
        return (f"a statement was canceled ({reason}); after a statement timeout, lower batch_size or raise "
                f"statement_timeout ({params['statement_timeout']:g} s).")
    if exc.pgcode == FOREIGN_KEY_VIOLATION:
        return f"a row is still referenced from another table ({reason}); the batch that met it moved nothing."
    if exc.pgcode is None:
        return (f"the connection to {where} was lost ({reason}). The batch in flight, if any, moved all its rows "
                "or none; rows_moved counts the batches that were confirmed.")
    return f"{reason}."


def prepare(connection, params, where, result):
    """Everything a run checks before it moves anything: source, column, cutoff, archive table, privileges.
    What it found goes into ``result`` at once, so that a failure names it."""
    with connection.cursor() as cursor:
        check_server(connection)
        set_session(cursor, params["lock_timeout"], params["statement_timeout"])
        source = find_source(cursor, params["table"], where)
        result["table"] = source.shown
        column = cutoff_column(cursor, source, params["column"])
        archive = find_archive(cursor, params["archive_table"], source)
        result["archive_table"] = archive.shown
        cutoff, in_future = compute_cutoff(cursor, column, params["older_than_days"], params["before"])
        result["cutoff"] = cutoff.isoformat()
        problems = privilege_problems(cursor, source, archive)
        if archive.oid is None and not params["create_archive"]:
            problems.append(f"the archive table {archive.shown} does not exist, and create_archive is false")
        if problems:
            raise PostgresError(f"{'; '.join(problems)} (on {where}).")
        if archive.oid is not None:
            problems = archive_problems(source, archive)
            if problems:
                raise PostgresError(f"the archive table {archive.shown} cannot hold its rows: {'; '.join(problems)}. "
                                    "Fix the archive table, or name another with archive_table.")
        ddl = [statement.as_string(cursor) for statement in archive_ddl(source, archive, column)]
    return source, column, archive, cutoff, in_future, ddl


def diff_of(result, ddl):
    before = f"{result['archive_table']}: {'absent' if result['archive_created'] else 'exists'}\n"
    created = "".join(f"{statement};\n" for statement in ddl) if result["archive_created"] else ""
    return {"before_header": result["archive_table"], "after_header": result["archive_table"], "before": before,
            "after": f"{created}{result['archive_table']}: +{result['rows_moved']} row(s) from {result['table']} "
                     f"older than {result['cutoff']}\n"}


def main():
    started = time.monotonic()
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            table={"type": "str", "required": True},
            archive_table={"type": "str"},
            column={"type": "str", "required": True},
            older_than_days={"type": "int"},
            before={"type": "str"},
            # About 0.1 s a batch on a small server: far below a second, large enough that round trips are noise.
            batch_size={"type": "int", "default": 10000},
            max_batches={"type": "int"},
            pause={"type": "float", "default": 0},
            lock_timeout={"type": "float", "default": 5},
            statement_timeout={"type": "float", "default": 60},
            create_archive={"type": "bool", "default": True},
        ),
        mutually_exclusive=[("older_than_days", "before")],
        required_one_of=[("older_than_days", "before")],
        supports_check_mode=True,
    )
    params = module.params
    result = {"rows_moved": 0, "batches": 0, "duration": 0.0, "longest_batch": 0.0, "archive_created": False,
              "complete": False}

    def finish(**more):
        result["duration"] = round(time.monotonic() - started, 3)
        return {**result, **more}

    problems = validate(params)
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was moved.", **finish())

    settings, where = unattended_settings(module, "postgres_archive")
    try:
        connection = connect(settings, autocommit=True)
    except PostgresError as exc:
        module.fail_json(msg=f"{exc} Nothing was moved.", **finish())

    try:
        archive_and_report(module, connection, params, where, result, finish)
    finally:
        connection.close()


def archive_and_report(module, connection, params, where, result, finish):
    # Before anything moves: every check, then (for real) the lock and the archive table.
    try:
        source, column, archive, cutoff, in_future, ddl = prepare(connection, params, where, result)
        result["archive_created"] = archive.oid is None
        if not module.check_mode:
            with connection.cursor() as cursor:
                take_lock(cursor, source)
            if archive.oid is None:
                archive = create_archive(connection, source, archive, column)
    except (PostgresError, psycopg2.Error) as exc:
        module.fail_json(msg=f"Cannot archive {result.get('table', params['table'])}: "
                             f"{explain(exc, params, where)} Nothing was moved.", **finish())
    if in_future:
        module.warn(f"The cutoff {result['cutoff']} is in the future: rows younger than now move too.")

    archiver = Archiver(connection, source, None if module.check_mode else archive, column, cutoff,
                        params["batch_size"])
    # A cancelled job (SIGTERM) or Ctrl-C (SIGINT) stops after the batch in flight, and says what moved.
    previous = {each: signal.signal(each, lambda signum, frame: archiver.stop(signal.Signals(signum).name))
                for each in (signal.SIGTERM, signal.SIGINT)}
    try:
        archiver.run(module.check_mode, params["max_batches"], params["pause"])
    except (PostgresError, psycopg2.Error) as exc:
        result.update(rows_moved=archiver.rows_moved, batches=archiver.batches,
                      longest_batch=round(archiver.longest_batch, 3))
        if module.check_mode:
            module.fail_json(msg=f"Counting the rows of {source.shown} to move stopped after {archiver.rows_moved} "
                                 f"row(s): {explain(exc, params, where)} Nothing was moved.", **finish())
        module.fail_json(msg=f"Archiving {source.shown} into {archive.shown} stopped after {archiver.batches} "
                             f"batch(es) and {archiver.rows_moved} row(s) moved: {explain(exc, params, where)} Every "
                             "batch moves its rows whole or not at all, so no row was lost or copied twice; run again "
                             "to continue where it stopped.", **finish())
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)

    result.update(rows_moved=archiver.rows_moved, batches=archiver.batches, complete=archiver.complete,
                  longest_batch=round(archiver.longest_batch, 3))
    changed = result["rows_moved"] > 0 or result["archive_created"]
    verb = "Would move" if module.check_mode else "Moved"
    created = ", after creating it" if module.check_mode else ", which it created"
    msg = (f"{verb} {result['rows_moved']} row(s) of {source.shown} older than {result['cutoff']} into "
           f"{archive.shown} in {result['batches']} batch(es)"
           f"{'' if result['complete'] else ', then stopped at max_batches'}"
           f"{created if result['archive_created'] else ''}.")
    extra = {"diff": diff_of(result, ddl)} if module._diff and changed else {}
    module.exit_json(changed=changed, msg=msg, **finish(), **extra)


if __name__ == "__main__":
    main()
