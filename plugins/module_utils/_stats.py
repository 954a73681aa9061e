# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a PostgreSQL server says about its health: the SQL, and how its answers are read.

Private to this collection: the interface may change in any release.

Each part of ``PARTS`` is one reader: it takes a cursor and the module's options and returns plain data.
A new part is one more function and one more entry.
Nothing here writes: the connection is read-only.
"""

from __future__ import annotations

import decimal
import math
import re
import time

from ansible_collections.runbook.ops.plugins.module_utils._postgres import (
    PostgresError,
    psycopg2,
    readable,
    sql_parts,
    statement_count,
)

try:
    from psycopg2 import sql
except ImportError:  # the module reports it with missing_required_lib
    sql = None

QUERY_TEXT_LIMIT = 500

# A custom query's name becomes a key of the result, which templates and alert rules read as an identifier.
QUERY_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# The types of a number: smallint, integer, bigint, real, double precision and numeric, by their oid.
NUMBER_TYPES = {21, 23, 20, 700, 701, 1700}
READ_ONLY_TRANSACTION = "25006"
QUERY_CANCELED = "57014"


def ping(cursor, options):
    """A ``SELECT 1`` round trip."""
    started = time.monotonic()
    cursor.execute("SELECT 1")
    answer = cursor.fetchone()
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    return {"ok": answer == (1,), "latency_ms": latency_ms,
            "server_version": readable(cursor.connection.server_version)}


def connections(cursor, options):
    """Client sessions, by state and by database, against max_connections.

    To a role without pg_read_all_stats, other roles' sessions show neither their state nor even their
    kind: each of them connected to a database counts, under the state "hidden".
    """
    cursor.execute("""
        SELECT coalesce(state, 'hidden'), datname, count(*)
        FROM pg_stat_activity
        WHERE backend_type = 'client backend' OR (backend_type IS NULL AND datname IS NOT NULL)
        GROUP BY 1, 2""")
    by_state, by_database = {}, {}
    for state, database, sessions in cursor.fetchall():
        by_state[state] = by_state.get(state, 0) + sessions
        by_database[database] = by_database.get(database, 0) + sessions
    cursor.execute("SELECT current_setting('max_connections')::int")
    max_connections = cursor.fetchone()[0]
    total = sum(by_state.values())
    return {"total": total, "max_connections": max_connections,
            "percent": round(100.0 * total / max_connections, 1),
            "by_state": by_state, "by_database": by_database}


def long_queries(cursor, options):
    """Statements running longer than ``long_query_seconds``, longest first, their literals masked."""
    cursor.execute("""
        SELECT pid, datname, usename, application_name, state,
               extract(epoch FROM clock_timestamp() - query_start)::float8, query
        FROM pg_stat_activity
        WHERE backend_type = 'client backend'
          AND pid <> pg_backend_pid()
          AND state IN ('active', 'fastpath function call')
          AND query_start < clock_timestamp() - make_interval(secs => %s)
        ORDER BY query_start""", (options["long_query_seconds"],))
    return [{"pid": pid, "database": database, "user": user, "application": application, "state": state,
             "seconds": round(seconds, 1), "query": mask_literals(query or "")[:QUERY_TEXT_LIMIT]}
            for pid, database, user, application, state, seconds, query in cursor.fetchall()]


def database_sizes(cursor, options):
    """Each database this role may connect to, largest first; the others are left out."""
    # pg_database_size() fails on a database the role may not connect to: ask only about the others.
    cursor.execute("""
        SELECT datname, pg_database_size(oid)
        FROM pg_database
        WHERE datallowconn AND has_database_privilege(oid, 'CONNECT')
        ORDER BY 2 DESC, 1""")
    return [{"name": name, "bytes": size} for name, size in cursor.fetchall()]


# The catalog's schemas, TOAST's and those of temporary tables are not the user's tables.
USER_SCHEMA = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
               "AND n.nspname !~ '^pg_temp_'")


# Where the extension keeps its views, if it is installed in this database.
STATEMENT_VIEWS = """
    SELECT n.nspname,
           (SELECT c.oid FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'pg_stat_statements'),
           EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'pg_stat_statements_info')
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements'"""

SLOWEST = """
    SELECT coalesce(r.rolname, s.userid::text), s.calls, s.{mean}, s.{total}, s.rows, s.query
    FROM {schema}.pg_stat_statements s
    LEFT JOIN pg_roles r ON r.oid = s.userid
    WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.{mean} > %s
    ORDER BY s.{mean} DESC
    LIMIT %s"""


def slow_statements(cursor, options):
    """The statements of this database slowest on average, from pg_stat_statements, their literals masked.

    The extension may be missing, or installed without being loaded: that is a finding, not a failure.
    """
    cursor.execute("SELECT current_database()")
    database = cursor.fetchone()[0]
    cursor.execute(STATEMENT_VIEWS)
    found = cursor.fetchone()
    if found is None:
        return unavailable(f"the extension pg_stat_statements is not installed in the database {database}: run "
                           "CREATE EXTENSION pg_stat_statements there (the server must load its library, through "
                           "shared_preload_libraries, which takes a restart)")
    schema, view, has_info = found
    # The columns were renamed in the extension's version 1.8 (PostgreSQL 13); a server upgraded without
    # ALTER EXTENSION ... UPDATE still has the old ones.
    cursor.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0", (view,))
    columns = {name for name, in cursor.fetchall()}
    mean, total = ("mean_exec_time", "total_exec_time") if "mean_exec_time" in columns else ("mean_time", "total_time")
    query = sql.SQL(SLOWEST).format(schema=sql.Identifier(schema), mean=sql.Identifier(mean),
                                    total=sql.Identifier(total))
    try:
        cursor.execute(query, (options["slow_statement_ms"], options["slow_statement_top"]))
    except (psycopg2.errors.ObjectNotInPrerequisiteState, psycopg2.errors.InsufficientPrivilege) as exc:
        # Installed, but the server did not load its library at start, or this role may not read it.
        return unavailable(f"pg_stat_statements cannot be read in the database {database}: "
                           f"{' '.join(str(exc).split())}")
    statements = [{"user": user, "calls": calls, "mean_ms": round(mean_ms, 1), "total_ms": round(total_ms, 1),
                   "rows": rows, "query": mask_literals(query or "")[:QUERY_TEXT_LIMIT]}
                  for user, calls, mean_ms, total_ms, rows, query in cursor.fetchall()]
    since = None
    # Its version 1.9 (PostgreSQL 14) records when it was last reset.
    if has_info:
        cursor.execute(sql.SQL("SELECT stats_reset FROM {}.pg_stat_statements_info").format(sql.Identifier(schema)))
        since = iso(cursor.fetchone()[0])
    return {"available": True, "reason": None, "since": since, "statements": statements}


def unavailable(reason):
    return {"available": False, "reason": reason, "since": None, "statements": []}


def table_sizes(cursor, options):
    """The database's size, and its ``size_top`` largest tables with what their rows, indexes and TOAST take."""
    cursor.execute("SELECT pg_database_size(current_database())")
    database_bytes = cursor.fetchone()[0]
    # A partitioned table holds nothing itself: its partitions are listed instead.
    cursor.execute(f"""
        SELECT n.nspname, c.relname, coalesce(pg_total_relation_size(c.oid), 0), coalesce(pg_indexes_size(c.oid), 0),
               coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0), c.reltuples
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND {USER_SCHEMA}
        ORDER BY 3 DESC, 1, 2
        LIMIT %s""", (options["size_top"],))
    tables = [{"table": f"{schema}.{name}", "total_bytes": total, "table_bytes": total - indexes - toast,
               "index_bytes": indexes, "toast_bytes": toast,
               # -1 (or 0 before PostgreSQL 14) until the table is first vacuumed or analyzed.
               "estimated_rows": int(estimate) if estimate >= 0 else None}
              for schema, name, total, indexes, toast, estimate in cursor.fetchall()]
    return {"database_bytes": database_bytes, "tables": tables}


def index_sizes(cursor, options):
    """The ``size_top`` largest indexes of the user's tables, with how often they were scanned.

    A partitioned table's index holds nothing itself: the indexes of its partitions are listed instead.
    """
    cursor.execute(f"""
        SELECT n.nspname, c.relname, t.relname, pg_relation_size(c.oid), s.idx_scan
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
        WHERE c.relkind = 'i' AND {USER_SCHEMA}
        ORDER BY 4 DESC, 1, 2
        LIMIT %s""", (options["size_top"],))
    return [{"index": f"{schema}.{name}", "table": f"{schema}.{table}", "bytes": size, "scans": scans}
            for schema, name, table, size, scans in cursor.fetchall()]


def unused_indexes(cursor, options):
    """Indexes no scan has used since the statistics were reset, largest first.

    Left out: those that enforce something (a primary key, a unique or exclusion constraint, or a unique index
    without a constraint), since dropping them changes what the table accepts, not only how fast it is read.
    """
    cursor.execute("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
    since = iso(cursor.fetchone()[0])
    cursor.execute(f"""
        SELECT n.nspname, c.relname, t.relname, pg_relation_size(c.oid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
        WHERE s.idx_scan = 0 AND NOT i.indisunique AND {USER_SCHEMA}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                          WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
        ORDER BY 4 DESC, 1, 2""")
    indexes = [{"index": f"{schema}.{name}", "table": f"{schema}.{table}", "bytes": size}
               for schema, name, table, size in cursor.fetchall()]
    return {"since": since, "indexes": indexes}


def queries(cursor, options):
    """Each custom query's one number, or None for NULL, in the order given.

    Each runs in a READ ONLY transaction of its own, with its own statement timeout, and is rolled back: a
    query that writes fails, and what one query sets (a setting, even the session's) does not reach the next.
    """
    return {name: number_of(cursor, name, query, options["query_timeout"], options["where"])
            for name, query in options["queries"].items()}


def number_of(cursor, name, query, timeout, where):
    """One query's number; its failure, or a shape other than one row of one number, names it."""
    try:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", (f"{max(int(timeout * 1000), 1)}ms",))
        cursor.execute(query)
        columns = cursor.description
        rows = cursor.fetchmany(2) if columns else []
    except psycopg2.Error as exc:
        raise PostgresError(query_failure(exc, name, timeout, where)) from None
    finally:
        # The connection is in autocommit, so psycopg2's own rollback() would send nothing.
        try:
            cursor.execute("ROLLBACK")
        except psycopg2.Error:
            pass  # the connection is lost; the failure above, or the next statement, says so

    shape = "exactly one row with one column, a number or NULL"
    if not columns:
        raise PostgresError(f"The query {name} returned no rows at all on {where}; it must be a SELECT that returns "
                            f"{shape}.")
    if len(columns) != 1:
        raise PostgresError(f"The query {name} returns {len(columns)} columns on {where}; it must return {shape}.")
    if columns[0].type_code not in NUMBER_TYPES:
        raise PostgresError(f"The query {name} returns a column that is not a number on {where}; it must return "
                            f"{shape} (cast it, for example count(*)::bigint or value::numeric).")
    if len(rows) != 1:
        raise PostgresError(f"The query {name} returned {'no row' if not rows else 'more than one row'} on {where}; "
                            f"it must return {shape}: use an aggregate such as count(*) or max(...).")
    return as_number(rows[0][0], name, where)


def as_number(value, name, where):
    """The value for JSON: an int stays one, and so does a numeric written without decimals; a NULL is None."""
    if isinstance(value, decimal.Decimal):
        if value.is_finite() and value.as_tuple().exponent >= 0:
            return int(value)
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise PostgresError(f"The query {name} returned {value} on {where}, which JSON cannot carry; it must return "
                            "a finite number or NULL.")
    return value


def query_failure(exc, name, timeout, where):
    """The line an operator reads when a custom query fails: PostgreSQL's message, not the query's text."""
    reason = " ".join((exc.diag.message_primary or str(exc)).split())
    if exc.pgcode == READ_ONLY_TRANSACTION:
        return (f"The query {name} tried to write on {where}; queries run read-only, so nothing was changed "
                f"({reason}).")
    if exc.pgcode == QUERY_CANCELED:
        return f"The query {name} ran longer than query_timeout ({timeout:g} s) on {where} and was canceled ({reason})."
    return f"The query {name} failed on {where}: {reason}."


def query_problems(queries):
    """What is wrong with the queries option, found before connecting."""
    problems = []
    for name, query in queries.items():
        if not QUERY_NAME.fullmatch(name):
            problems.append(f"The query name {name!r} is not an identifier: use lower-case letters, digits and "
                            "underscores, not starting with a digit.")
        elif not isinstance(query, str) or not query.strip().rstrip(";").strip():
            problems.append(f"The query {name} is empty; give it one SQL statement.")
        elif statement_count(query) > 1:
            # A COMMIT among several statements would end the read-only transaction.
            problems.append(f"The query {name} holds more than one statement; give one.")
    return problems


def iso(moment):
    return moment.isoformat() if moment is not None else None


PARTS = {
    "ping": ping,
    "connections": connections,
    "long_queries": long_queries,
    "database_sizes": database_sizes,
    "slow_statements": slow_statements,
    "table_sizes": table_sizes,
    "index_sizes": index_sizes,
    "unused_indexes": unused_indexes,
    "queries": queries,
}
# What a diagnosis reads when it names nothing: the parts that are cheap on any database.
DEFAULT_PARTS = ["ping", "connections", "long_queries", "database_sizes"]


def gather(connection, parts, where, **options):
    """The named parts, read in the order given; ``where`` names the server in a failure."""
    options["where"] = where
    gathered = {}
    with connection.cursor() as cursor:
        for part in parts:
            try:
                gathered[part] = PARTS[part](cursor, options)
            except psycopg2.Error as exc:
                reason = " ".join(str(exc).split())
                raise PostgresError(f"Cannot read {part} on {where}: {reason}") from None
    return gathered


# ----- masking the literals of a statement ---------------------------------------------------------

def literal_spans(sql, backslash_escapes):
    """``(start, end)`` of every string constant in ``sql``, prefix and quotes included (see sql_parts)."""
    return [(start, end) for kind, start, end in sql_parts(sql, backslash_escapes) if kind in ("string", "dollar")]


def mask_literals(sql):
    """``sql`` with every string constant replaced by ``?``.

    Whether a backslash escapes a quote depends on standard_conforming_strings in the session that sent
    the statement, which this session cannot see. So the text is read both ways, and whatever is a
    constant in either reading is masked: nothing that was data to the server is left.
    """
    masked = [False] * len(sql)
    for backslash_escapes in (False, True):
        for start, end in literal_spans(sql, backslash_escapes):
            masked[start:end] = [True] * (end - start)
    shown, position = [], 0
    while position < len(sql):
        if masked[position]:
            shown.append("?")
            while position < len(sql) and masked[position]:
                position += 1
        else:
            shown.append(sql[position])
            position += 1
    return "".join(shown)
