# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""PostgreSQL connections and the version checks that keep pg_dump and pg_restore honest.

Private to this collection: the interface may change in any release.

Connections come from discrete options, a DSN (``DATABASE_URL``) and libpq's PG* variables, in that order.
Client programs get the same settings through libpq's environment variables, so that no
password ever stands in a process's arguments.
"""

from __future__ import annotations

import os
import re
import subprocess

try:
    import psycopg2
    from psycopg2.extensions import parse_dsn
except ImportError:  # the module reports it with missing_required_lib
    psycopg2 = None

# Discrete option name -> libpq keyword, and the environment variable libpq reads it from.
LIBPQ = {
    "host": ("host", "PGHOST"),
    "port": ("port", "PGPORT"),
    "user": ("user", "PGUSER"),
    "password": ("password", "PGPASSWORD"),
    "database": ("dbname", "PGDATABASE"),
    "sslmode": ("sslmode", "PGSSLMODE"),
    "sslrootcert": ("sslrootcert", "PGSSLROOTCERT"),
}


class PostgresError(Exception):
    """A PostgreSQL step failed; ``str()`` is the line an operator reads."""


def connection_settings(dsn=None, environment=None, **options):
    """libpq keywords as libpq itself would settle them: the discrete options that are set, then the
    DSN's parts, then the PG* environment variables (so a stale PGPASSWORD cannot override a DSN)."""
    environment = os.environ if environment is None else environment
    settings = {keyword: environment[variable] for keyword, variable in LIBPQ.values() if environment.get(variable)}
    if dsn:
        try:
            settings.update(parse_dsn(dsn))
        except psycopg2.ProgrammingError:
            # The DSN holds the password: say what is wrong without repeating it.
            raise PostgresError("The database URL (DATABASE_URL) cannot be read as a PostgreSQL connection "
                                "string; check its form: postgresql://user:password@host:port/database.") from None
    for option, value in options.items():
        if value not in (None, ""):
            settings[LIBPQ[option][0]] = str(value)
    return settings


def client_environment(settings):
    """libpq's environment variables for a client program, so that no secret is in its arguments."""
    by_keyword = dict(LIBPQ.values())
    return {by_keyword[key]: value for key, value in settings.items() if key in by_keyword}


def describe(settings):
    """Where a connection goes, without its password."""
    return (f"{settings.get('user', '(default user)')}@{settings.get('host', '(local socket)')}:"
            f"{settings.get('port', 5432)}/{settings.get('dbname', '(default database)')}")


def connect(settings, autocommit=False, name=None):
    """A connection; ``name`` says what it is for in a failure, where the settings alone would mislead."""
    try:
        connection = psycopg2.connect(**settings)
    except psycopg2.OperationalError as exc:
        # libpq's message names the host and the reason, never the password.
        reason = " ".join(str(exc).split())
        raise PostgresError(f"Cannot connect to {name or describe(settings)}: {reason}") from None
    connection.autocommit = autocommit
    return connection


def server_version(connection):
    """The server's version as a number, 150018 for 15.18."""
    return connection.server_version


def client_version(program):
    """A client program's version as a number, from ``--version``: ``pg_dump (PostgreSQL) 15.18`` gives 150018."""
    try:
        output = subprocess.run([program, "--version"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PostgresError(f"Cannot run {program} --version: {exc}. Install the PostgreSQL client programs.") from None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", output)
    if not found:
        raise PostgresError(f"{program} --version printed {output.strip()!r}, which names no PostgreSQL version.")
    return int(found.group(1)) * 10000 + int(found.group(2) or 0)


def readable(version):
    """150018 -> '15.18'."""
    return f"{version // 10000}.{version % 10000}"


def check_client(program, server):
    """Refuse a client program older than the server: pg_dump cannot dump a newer server correctly."""
    client = client_version(program)
    if client // 10000 < server // 10000:
        raise PostgresError(f"{program} is version {readable(client)}, older than the server's {readable(server)}: "
                            f"install the client programs of PostgreSQL {server // 10000} or newer and point "
                            "the module at them.")
    return client


# ----- reading SQL text: counting statements here, masking literals in _stats ---------------------------

# A dollar quote's delimiter: $$ or $tag$, where a tag does not start with a digit ($1 is a parameter).
DOLLAR_QUOTE = re.compile(r"\$(?:[^\W\d]\w*)?\$")
# Prefixes of a string constant: E'..' (escapes), B'..' and X'..' (bits), N'..' (national), U&'..' (Unicode).
STRING_PREFIX = re.compile(r"(?:\b[EeBbXxNn]|\b[Uu]&)$")


def _closing_quote(sql, start, backslash_escapes):
    """Where the '...' or "..." opened at ``start`` ends (after its closing quote), or the end of ``sql``."""
    quote, position = sql[start], start + 1
    while position < len(sql):
        if backslash_escapes and sql[position] == "\\":
            position += 2
        elif sql.startswith(quote * 2, position):
            position += 2  # a doubled quote stands for one
        elif sql[position] == quote:
            return position + 1
        else:
            position += 1
    return len(sql)


def _block_comment_end(sql, start):
    """Where the /* comment */ opened at ``start`` ends; PostgreSQL's comments nest."""
    depth, position = 0, start
    while position < len(sql):
        if sql.startswith("/*", position):
            depth, position = depth + 1, position + 2
        elif sql.startswith("*/", position):
            depth, position = depth - 1, position + 2
            if depth == 0:
                return position
        else:
            position += 1
    return len(sql)


def sql_parts(sql, backslash_escapes):
    """``(kind, start, end)`` of each part of ``sql`` as PostgreSQL reads it: ``comment``, ``identifier``
    ("..."), ``string`` ('...', its prefix included), ``dollar`` ($tag$...$tag$), ``;``, and ``text`` for
    any other character. A part left open (a statement cut short) runs to the end.

    ``backslash_escapes`` says whether a backslash escapes a quote in a plain '...' string, as it does
    when standard_conforming_strings is off; in E'...' strings it always does.
    """
    position = 0
    while position < len(sql):
        character, start = sql[position], position
        if sql.startswith("--", position):
            end = sql.find("\n", position)
            kind, position = "comment", len(sql) if end < 0 else end
        elif sql.startswith("/*", position):
            kind, position = "comment", _block_comment_end(sql, position)
        elif character == '"':
            kind, position = "identifier", _closing_quote(sql, position, False)
        elif character == "'":
            prefix = STRING_PREFIX.search(sql, 0, position)
            start = prefix.start() if prefix else position
            escapes = backslash_escapes or sql[start:position] in ("E", "e")
            kind, position = "string", _closing_quote(sql, position, escapes)
        elif (character == "$" and not (position and (sql[position - 1].isalnum() or sql[position - 1] == "_"))
              and DOLLAR_QUOTE.match(sql, position)):
            delimiter = DOLLAR_QUOTE.match(sql, position).group()
            end = sql.find(delimiter, position + len(delimiter))
            kind, position = "dollar", len(sql) if end < 0 else end + len(delimiter)
        else:
            kind, position = (";" if character == ";" else "text"), position + 1
        yield kind, start, position


def _count_statements(sql, backslash_escapes):
    count, has_content = 0, False
    for kind, start, end in sql_parts(sql, backslash_escapes):
        if kind == ";":
            count, has_content = count + has_content, False
        elif kind != "comment" and not sql[start:end].isspace():
            has_content = True
    return count + has_content


def statement_count(sql):
    """How many statements ``sql`` holds: the parts between its semicolons that hold more than white space
    and comments. A semicolon inside a string constant, a quoted identifier, a dollar quote or a comment
    separates nothing.

    Whether a backslash escapes a quote depends on the session's standard_conforming_strings, so the text is
    read both ways and the larger count is taken: a second statement is never missed for that.
    """
    return max(_count_statements(sql, False), _count_statements(sql, True))
