# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a PostgreSQL server says about its health: the SQL, and how its answers are read.

Private to this collection: the interface may change in any release.

Each part of ``PARTS`` is one reader: it takes a cursor and the module's options and returns plain data.
A new part (slow statements, table sizes, unused indexes) is one more function and one more entry.
Nothing here writes: the connection is read-only.
"""

from __future__ import annotations

import time

from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, psycopg2, readable, sql_parts

QUERY_TEXT_LIMIT = 500


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


PARTS = {
    "ping": ping,
    "connections": connections,
    "long_queries": long_queries,
    "database_sizes": database_sizes,
}


def gather(connection, parts, where, **options):
    """The named parts, read in the order given; ``where`` names the server in a failure."""
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
