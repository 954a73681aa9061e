# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ANALYZE, VACUUM (ANALYZE) and REINDEX of a database's tables: one statement per table, each timed.

Private to this collection: the interface may change in any release.

The tables are read from the catalog once, with what decides whether a step runs: the role's right to
maintain the table, whether it has an index, and when it was last analyzed and vacuumed. Each step is
then run, or passed over with the reason, in the order the operations were given.
"""

from __future__ import annotations

import time
from collections import namedtuple

from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, psycopg2

try:
    from psycopg2 import sql
except ImportError:  # the module reports it with missing_required_lib
    sql = None

LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
# REINDEX CONCURRENTLY and pg_partition_tree() came with PostgreSQL 12, REINDEX of a partitioned table
# with 14, the MAINTAIN privilege with 17.
CONCURRENT_REINDEX = PARTITION_TREE = 120000
PARTITIONED_REINDEX = 140000
MAINTAIN_PRIVILEGE = 170000


class Table(namedtuple("Table", "schema name kind partition visible may_vacuum may_reindex has_index "
                                "analyzed_hours vacuumed_hours")):
    __slots__ = ()

    @property
    def qualified(self):
        return f"{self.schema}.{self.name}"


# The catalog's schemas, TOAST's and those of temporary tables are not the user's tables.
USER_SCHEMA = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
               "AND n.nspname !~ '^pg_temp_'")

TABLES = """
    SELECT n.nspname, c.relname, c.relkind, c.relispartition, pg_table_is_visible(c.oid),
           pg_has_role(c.relowner, 'USAGE') OR (pg_has_role(d.datdba, 'USAGE') AND NOT c.relisshared) {maintain},
           pg_has_role(c.relowner, 'USAGE') {maintain},
           EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid IN (c.oid, c.reltoastrelid)),
           extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze)) / 3600,
           CASE WHEN c.relkind = 'p' THEN {partitions_vacuumed}
                ELSE extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum)) / 3600 END
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_database d ON d.datname = current_database()
    LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
    WHERE c.relkind IN ('r', 'm', 'p') AND {user_schema}
    ORDER BY n.nspname, c.relname"""

# A partitioned table holds no rows and is never vacuumed itself: it counts as vacuumed when the last of
# its partitions was.
PARTITIONS_VACUUMED = """(
    SELECT CASE WHEN bool_and(greatest(l.last_vacuum, l.last_autovacuum) IS NOT NULL)
                THEN extract(epoch FROM now() - min(greatest(l.last_vacuum, l.last_autovacuum))) / 3600 END
    FROM pg_partition_tree(c.oid) AS t JOIN pg_stat_all_tables l ON l.relid = t.relid
    WHERE t.isleaf)"""

INVALID_INDEXES = """
    SELECT n.nspname, c.relname
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT i.indisvalid AND NOT pg_is_other_temp_schema(n.oid)
    ORDER BY 1, 2"""

LOCK_HOLDERS = """
    SELECT DISTINCT l.pid, coalesce(a.application_name, ''), coalesce(a.state, 'hidden')
    FROM pg_locks l
    LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.granted AND l.pid <> pg_backend_pid()
      AND l.relation = (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = %s AND c.relname = %s)
    ORDER BY 1"""


class StepFailed(PostgresError):
    """A step failed; ``str()`` names it, and the steps before it are in the list the caller passed."""


def user_tables(cursor, version):
    """Every table, partitioned table and materialized view of the database's own schemas, with the role's
    rights on it and the age in hours of its last (auto)analyze and (auto)vacuum (None when never)."""
    maintain = "OR has_table_privilege(c.oid, 'MAINTAIN')" if version >= MAINTAIN_PRIVILEGE else ""
    partitions_vacuumed = PARTITIONS_VACUUMED if version >= PARTITION_TREE else "NULL::float8"
    cursor.execute(TABLES.format(maintain=maintain, partitions_vacuumed=partitions_vacuumed, user_schema=USER_SCHEMA))
    return [Table(*row) for row in cursor.fetchall()]


def choose(tables, names):
    """The tables ``names`` name (``table`` as the search path finds it, or ``schema.table``), in that order,
    each once, and the names that name none. Without names: every table that is not a partition, since an
    operation on a partitioned table covers its partitions."""
    if not names:
        return [table for table in tables if not table.partition], []
    qualified = {(table.schema, table.name): table for table in tables}
    visible = {table.name: table for table in tables if table.visible}
    chosen, unknown = [], []
    for name in names:
        schema, _dot, relation = name.partition(".")
        # A name with a dot in it is a table of the search path when no schema is called like its first part.
        table = qualified.get((schema, relation)) if relation else None
        table = table or visible.get(name)
        if table is None:
            unknown.append(name)
        elif table not in chosen:
            chosen.append(table)
    return chosen, unknown


def statement(operation, table, concurrently):
    """The SQL of one step."""
    target = sql.Identifier(table.schema, table.name)
    if operation == "analyze":
        return sql.SQL("ANALYZE {}").format(target)
    if operation == "vacuum_analyze":
        return sql.SQL("VACUUM (ANALYZE) {}").format(target)
    return sql.SQL("REINDEX TABLE CONCURRENTLY {}" if concurrently else "REINDEX TABLE {}").format(target)


def command(operation, concurrently):
    """What an operator reads for an operation."""
    return {"analyze": "ANALYZE", "vacuum_analyze": "VACUUM (ANALYZE)",
            "reindex": "REINDEX TABLE CONCURRENTLY" if concurrently else "REINDEX TABLE"}[operation]


def ago(hours):
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def reason_to_skip(operation, table, min_interval_hours, done, version):
    """Why the step is passed over, or None when it runs. ``done`` holds what earlier steps of this run did."""
    if operation == "reindex":
        if not table.may_reindex:
            return "this role may not reindex it: only its owner or a superuser may"
        if not table.has_index:
            return "it has no index"
        if table.kind == "p" and version < PARTITIONED_REINDEX:
            return "REINDEX of a partitioned table needs PostgreSQL 14 or newer; name its partitions instead"
        # PostgreSQL keeps no record of a REINDEX: it always runs.
        return None
    if not table.may_vacuum:
        verb = "analyze" if operation == "analyze" else "vacuum"
        return f"this role may not {verb} it: only its owner, the database's owner or a superuser may"
    if not min_interval_hours:
        return None
    analyzed = ("analyzed", table) in done or (
        table.analyzed_hours is not None and table.analyzed_hours < min_interval_hours)
    if operation == "analyze":
        if not analyzed:
            return None
        if ("analyzed", table) in done:
            return "analyzed earlier in this run"
        return f"analyzed {ago(table.analyzed_hours)} ago, within min_interval_hours ({min_interval_hours:g})"
    vacuumed = ("vacuumed", table) in done or (
        table.vacuumed_hours is not None and table.vacuumed_hours < min_interval_hours)
    if not (analyzed and vacuumed):
        return None
    if ("vacuumed", table) in done:
        return "vacuumed and analyzed earlier in this run"
    if ("analyzed", table) in done:
        return f"vacuumed {ago(table.vacuumed_hours)} ago and analyzed earlier in this run"
    return (f"vacuumed {ago(table.vacuumed_hours)} and analyzed {ago(table.analyzed_hours)} ago, within "
            f"min_interval_hours ({min_interval_hours:g})")


def run_steps(cursor, operations, tables, steps, check_mode=False, concurrently=False, min_interval_hours=0,
              lock_timeout=10, version=0):
    """Each operation in turn over every table, appending a step to ``steps`` as it ends. In check mode
    nothing runs. A failing step raises StepFailed, the steps before it already in ``steps``."""
    done = set()
    for operation in operations:
        for table in tables:
            skipped = reason_to_skip(operation, table, min_interval_hours, done, version)
            seconds = None
            if skipped is None and not check_mode:
                started = time.monotonic()
                try:
                    cursor.execute(statement(operation, table, concurrently))
                except psycopg2.Error as exc:
                    raise StepFailed(failure(cursor, exc, command(operation, concurrently), table, lock_timeout,
                                             len(steps))) from None
                seconds = round(time.monotonic() - started, 3)
            if skipped is None:
                done.add(("analyzed", table))
                if operation == "vacuum_analyze":
                    done.add(("vacuumed", table))
            steps.append({"operation": operation, "table": table.qualified, "seconds": seconds, "skipped": skipped})


def failure(cursor, exc, what, table, lock_timeout, steps_before):
    """The line an operator reads when a step fails: which step, PostgreSQL's reason, and for a lock, who
    holds one."""
    reason = " ".join(str(exc).split())
    before = f"The {steps_before} step(s) before it are in steps." if steps_before else "It was the first step."
    if exc.pgcode == LOCK_NOT_AVAILABLE:
        holders = lock_holders(cursor, table)
        return (f"{what} of {table.qualified} waited more than lock_timeout ({lock_timeout:g} s) for a lock and was "
                f"stopped ({reason}).{holders} {before} Run again once the lock is released; with min_interval_hours, "
                "the tables already done are passed over.")
    if exc.pgcode == QUERY_CANCELED:
        return f"{what} of {table.qualified} was canceled ({reason}). {before}"
    return f"{what} of {table.qualified} failed: {reason}. {before}"


def lock_holders(cursor, table):
    """`` Sessions holding a lock on it: pid 4242 (psql, idle in transaction).``, or nothing when none is seen
    any more or the question itself fails."""
    try:
        cursor.execute(LOCK_HOLDERS, (table.schema, table.name))
        holders = cursor.fetchall()
    except psycopg2.Error:
        return ""
    if not holders:
        return ""
    sessions = ", ".join(f"pid {pid} ({application or 'no application name'}, {state})"
                         for pid, application, state in holders)
    return f" Sessions holding a lock on it: {sessions}."


def invalid_indexes(cursor):
    """``schema.index`` of every index of the database left invalid, such as by an interrupted REINDEX
    CONCURRENTLY or CREATE INDEX CONCURRENTLY."""
    cursor.execute(INVALID_INDEXES)
    return [f"{schema}.{name}" for schema, name in cursor.fetchall()]
