#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_schema_info
short_description: Read a database's schema version with a query that cannot change anything
description:
  - Runs O(query), which must return one column, and returns the value of its first row as RV(version),
    for a deploy to compare with the schema version the application needs.
  - The query runs in a C(READ ONLY) transaction, which is then rolled back, and PostgreSQL cancels it after
    O(statement_timeout) seconds. A query that tries to write fails and changes nothing.
  - O(query) must be one statement. Several, separated by semicolons, are refused before connecting, since a
    C(COMMIT) among them would end the read-only transaction. A semicolon inside a string constant, a quoted
    name or a comment separates nothing, and one at the end is allowed.
  - RV(version) is null when the query returns no row (or a null). More than one column fails the task, and so
    does more than one row, because without C(ORDER BY) the first of several rows is any row, and a guard that
    picked a version at random could let an incompatible deploy through. Add C(ORDER BY ... DESC LIMIT 1), or
    use an aggregate such as C(max(version)).
  - A failing query (a missing table, a syntax error, missing privileges) fails the task with PostgreSQL's
    message, the user, host, port and database it ran on, never the password.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.postgres
attributes:
  check_mode:
    support: full
    details: Read-only; it runs the same query in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  query:
    description:
      - One SQL statement that returns one column, for example
        V(SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1).
      - It runs as written, without parameters; do not build it from values an outsider can set.
    type: str
    required: true
  statement_timeout:
    description:
      - Seconds the query may run before PostgreSQL cancels it and the task fails.
      - Reading a table waits for a lock that a migration holds on it; this bounds the wait.
    type: float
    default: 30
notes:
  - The read-only transaction guards against a query that writes by mistake, not against a role that may write
    choosing to; give the task a role that may only read what the query needs.
  - Unless the DSN or E(PGCONNECT_TIMEOUT) says otherwise, connecting gives up after 10 seconds.
  - Every setting is made inside the one transaction, so the module works through a pooler in transaction mode.
  - The PostgreSQL client programs are not needed by this module, only psycopg2.
  - RV(version) is text. A number is written in digits, a date or time in ISO 8601 (C(2026-12-01T12:00:00+00:00)),
    anything else as psycopg2 reads it.
seealso:
  - module: runbook.ops.postgres_stats_info
  - name: SET TRANSACTION
    description: What a read-only transaction refuses.
    link: https://www.postgresql.org/docs/current/sql-set-transaction.html
"""

EXAMPLES = r"""
- name: Read the schema version
  runbook.ops.postgres_schema_info:
    query: SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1
  register: schema

- name: Stop a deploy whose code needs a newer schema
  ansible.builtin.assert:
    that: schema.version is not none and schema.version | int >= deploy_schema_version | int
    fail_msg: "The database is at schema {{ schema.version }}; this release needs {{ deploy_schema_version }}."

- name: Alembic's version, through a pooler, waiting at most 5 seconds
  runbook.ops.postgres_schema_info:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_POOLER_URL') }}"
    query: SELECT version_num FROM alembic_version
    statement_timeout: 5
"""

RETURN = r"""
version:
  description: The value of the query's one column in its first row, as text; null when no row came back.
  returned: success
  type: str
  sample: "20261201120000"
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._postgres import (
    PostgresError,
    connect,
    psycopg2,
    statement_count,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres_options import (
    postgres_argument_spec,
    unattended_settings,
)

READ_ONLY_TRANSACTION = "25006"
QUERY_CANCELED = "57014"
UNDEFINED_TABLE = "42P01"


def as_text(value):
    """The version as text: digits for a number, ISO 8601 for a date or time."""
    if value is None:
        return None
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, memoryview):
        return value.tobytes().hex()
    return str(value)


def failure(exc, where, statement_timeout):
    """The line an operator reads when the query fails, PostgreSQL's own message in it."""
    reason = " ".join(str(exc).split())
    if exc.pgcode == READ_ONLY_TRANSACTION:
        return (f"The schema version query tried to write on {where}; it runs read-only, so nothing was changed "
                f"({reason}). Give a query that only reads, such as SELECT version FROM schema_migrations "
                "ORDER BY version DESC LIMIT 1.")
    if exc.pgcode == QUERY_CANCELED:
        return (f"The schema version query ran longer than statement_timeout ({statement_timeout:g} s) on {where} "
                f"and was canceled ({reason}). A migration holding a lock on the table makes it wait; run again "
                "later or raise statement_timeout.")
    advice = ("Check that the query names a table of this database, and that the migrations have run there."
              if exc.pgcode == UNDEFINED_TABLE else "Check the query (the option query).")
    return f"The schema version query failed on {where}: {reason}. {advice}"


def read_version(connection, query, statement_timeout, where):
    """The first row's one value, read in a read-only transaction (never committed)."""
    try:
        with connection.cursor() as cursor:
            # Set inside the transaction, so that a pooler in transaction mode keeps them with the query.
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(statement_timeout * 1000)}ms",))
            cursor.execute(query)
            if cursor.description is None:
                raise PostgresError(f"The schema version query returned no rows at all on {where}; it must be a "
                                    "query such as SELECT that returns one column.")
            if len(cursor.description) != 1:
                columns = ", ".join(column.name for column in cursor.description)
                raise PostgresError(f"The schema version query returns {len(cursor.description)} columns ({columns}) "
                                    f"on {where}; it must return one, the version.")
            rows = cursor.fetchmany(2)
    except psycopg2.Error as exc:
        raise PostgresError(failure(exc, where, statement_timeout)) from None
    # Closing the connection rolls the transaction back.
    if len(rows) > 1:
        raise PostgresError(f"The schema version query returned more than one row on {where}; it must name one "
                            "version: add ORDER BY ... DESC LIMIT 1, or use an aggregate such as max(version).")
    return as_text(rows[0][0]) if rows else None


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            query={"type": "str", "required": True},
            statement_timeout={"type": "float", "default": 30},
        ),
        supports_check_mode=True,
    )
    params = module.params
    query = params["query"].strip()
    if not query.rstrip(";").strip():
        module.fail_json(msg="query must not be empty.")
    if statement_count(query) > 1:
        module.fail_json(msg="query holds more than one statement; give one, since a COMMIT among several would end "
                             "the read-only transaction. Nothing was run.")
    if not 0 < params["statement_timeout"] <= 86400:
        module.fail_json(msg=f"statement_timeout must be more than 0 and at most 86400 seconds, not "
                             f"{params['statement_timeout']:g}.")

    settings, where = unattended_settings(module, "postgres_schema_info")
    try:
        connection = connect(settings)
        try:
            version = read_version(connection, query, params["statement_timeout"], where)
        finally:
            connection.close()
    except PostgresError as exc:
        module.fail_json(msg=str(exc))

    module.exit_json(changed=False, version=version)


if __name__ == "__main__":
    main()
