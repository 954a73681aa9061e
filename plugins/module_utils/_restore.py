# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Restores that verify the backup before touching anything and replace a live database in one step.

Private to this collection: the interface may change in any release.

Two ways to restore:

- swap: restore into a scratch database while the live one still serves, check it, then block
  connections, end the live database's sessions and rename scratch -> live in one transaction.
  Needs CREATEDB and ownership of the live database (or a superuser).
- in place: pg_restore --clean (or psql) in a single transaction on the live database, for roles
  that may not create or rename databases, as on managed services.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time

from ansible_collections.runbook.ops.plugins.module_utils._backup import (
    NAME,
    SAFETY_NAME,
    dated_in_the_future,
    stamp_of,
    table_of_contents,
    verified_backups,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, connect, describe, psycopg2

try:
    from psycopg2 import errors, sql
except ImportError:  # the module reports it with missing_required_lib
    errors = sql = None

# The last line pg_dump writes in plain format: a file without it was cut short.
PLAIN_FOOTER = b"-- PostgreSQL database dump complete"

# A plain file is fed to psql behind a \restrict of our own, so that a meta-command in it (\! runs a
# shell) fails instead of running; pg_dump's own \restrict and \unrestrict lines are left out.
OWN_RESTRICT = re.compile(rb"^\\(un)?restrict \S+\s*$")
COPY_FROM_STDIN = re.compile(rb"^COPY .* FROM stdin;\s*$")
END_OF_COPY = b"\\."
# How the lines that matter begin, inside COPY data and outside it.
NOTABLE_IN_COPY = (END_OF_COPY,)
NOTABLE_OUTSIDE = (b"\\", b"COPY ")
# The first psql of each major version that knows \restrict.
RESTRICT_SINCE = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}

# Settings whose stored value is a list of quoted names, which must be given back item by item.
LIST_SETTINGS = {"search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries"}


# A cancelled job

class Interrupted(PostgresError):
    """The job was cancelled or interrupted."""


def interrupted(signum, frame):
    """The handler of SIGTERM and SIGINT: the module leaves through its clean-up and reports what it did."""
    raise Interrupted(f"Stopped by {signal.Signals(signum).name}.")


# Recognising and verifying a backup

def archive_format(path):
    """directory, custom, plain or plain-gzip, from what the file holds and its name."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "toc.dat")):
            return "directory"
        raise PostgresError(f"{path} is a folder without toc.dat, not a pg_dump directory archive.")
    with open(path, "rb") as handle:
        head = handle.read(5)
    if head == b"PGDMP":
        return "custom"
    if head[:2] == b"\x1f\x8b" and path.endswith(".sql.gz"):
        return "plain-gzip"
    if path.endswith(".sql"):
        return "plain"
    raise PostgresError(f"{path} is neither a pg_dump archive (custom or directory format) nor a .sql or .sql.gz "
                        "file of SQL statements.")


def open_plain(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def check_manifest(path):
    """Compare the backup with its SHA-256 manifest; False when it has none."""
    manifest = path.rstrip("/") + ".sha256"
    if not os.path.isfile(manifest):
        return False
    folder = os.path.dirname(manifest)
    with open(manifest, encoding="utf-8") as handle:
        expected = [line.split(None, 1) for line in handle if line.strip()]
    for digest, name in expected:
        name = name.strip().lstrip("*")
        actual = hashlib.sha256()
        try:
            with open(os.path.join(folder, name), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    actual.update(block)
        except OSError as exc:
            raise PostgresError(f"{name}, listed in {manifest}, cannot be read: {exc.strerror}.") from None
        if actual.hexdigest() != digest:
            raise PostgresError(f"{name} does not match its SHA-256 manifest {manifest}: it was changed or cut short "
                                "after the backup was taken.")
    return True


def read_through(pg_restore, path, environment):
    """Have pg_restore read every byte of an archive, which finds a truncated or damaged one."""
    done = subprocess.run([pg_restore, "--file", os.devnull, path], capture_output=True, text=True,
                          env=environment, check=False)
    if done.returncode != 0:
        reason = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise PostgresError(f"pg_restore cannot read all of {path}: {reason}.")


def plain_is_complete(path):
    """Whether a plain SQL dump ends with pg_dump's closing line."""
    tail = b""
    try:
        with open_plain(path) as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                tail = (tail + block)[-4096:]
    except (OSError, EOFError) as exc:
        raise PostgresError(f"{path} cannot be read to its end: {exc}.") from None
    return PLAIN_FOOTER in tail


def psql_can_restrict(version):
    """Whether a psql (its version as a number, 150018 for 15.18) knows \\restrict."""
    major, minor = divmod(version, 10000)
    return major > 17 or minor >= RESTRICT_SINCE.get(major, 10000)


def replaced_copy(path, dumped, database):
    """Whether the archive is a safety backup of the database, which a swap takes under its replaced name."""
    named = SAFETY_NAME.match(os.path.basename(path.rstrip("/")))
    return bool(named and named.group("database") == database
                and re.fullmatch(re.escape(database[:37]) + r"_replaced_\d{8}T\d{6}Z", dumped or ""))


def verify(path, pg_restore, environment, source_database):
    """Check a backup without touching any database; return its format and how it was checked."""
    if not os.path.exists(path):
        raise PostgresError(f"The backup {path} does not exist.")
    kind = archive_format(path)
    has_manifest = check_manifest(path)
    found = {"path": path, "format": kind, "manifest": has_manifest, "source_database": None}
    if kind in ("custom", "directory"):
        contents = table_of_contents(pg_restore, path, environment)
        found.update(toc_entries=contents["entries"], source_database=contents["dbname"],
                     tables=[name.replace(" ", ".", 1) for name in contents["tables"]])
        if contents["entries"] == 0:
            raise PostgresError(f"The archive {path} has an empty table of contents.")
        if contents["dbname"] != source_database and not replaced_copy(path, contents["dbname"], source_database):
            raise PostgresError(f"The backup {path} is of the database {contents['dbname']}, not of "
                                f"{source_database}. To restore it all the same, name its database in "
                                "source_database.")
        if not has_manifest:
            read_through(pg_restore, path, environment)
    elif not plain_is_complete(path):
        raise PostgresError(f"{path} does not end with pg_dump's closing line ({PLAIN_FOOTER.decode()}): it was cut "
                            "short or was not made by pg_dump.")
    found["verified_by"] = "manifest" if has_manifest else "full read" if kind in ("custom", "directory") else \
        "closing line"
    return found


def newest_verifying(directory, database, pg_restore, environment):
    """The newest backup of the database that verifies, and why newer ones were passed over."""
    found, passed_over = newest_backup(directory, database, pg_restore, environment)
    if found is None:
        reasons = f" Passed over: {' '.join(passed_over)}" if passed_over else ""
        raise PostgresError(f"No verified backup of {database} in {directory} can be restored.{reasons}")
    return found, passed_over


def newest_backup(directory, database, pg_restore, environment, verifying=True):
    """The newest backup of the database that verifies, or None, and why newer ones were passed over.

    Without ``verifying``, the newest that has a manifest, as a quick look that reads no archive: it is
    returned as ``{"path": ...}`` only, since nothing else was read.
    """
    if not os.path.isdir(directory):
        raise PostgresError(f"The backup folder {directory} does not exist.")
    ours = [name for name in os.listdir(directory) if NAME.match(name) and NAME.match(name).group("database") == database]
    undated = [name for name in sorted(ours) if stamp_of(NAME.match(name)) is None
               or dated_in_the_future(stamp_of(NAME.match(name)))]
    passed_over = [f"{name} is not dated by a real time in the past, so it cannot be the newest; name it to restore it."
                   for name in undated]
    unverified = sorted((name for name in ours if name not in undated
                         and not os.path.exists(os.path.join(directory, name + ".sha256"))), reverse=True)
    for dummy, path in verified_backups(directory, database):
        # Backups without a manifest were never verified (or lost it): say so, do not pick them.
        passed_over += [f"{name} has no SHA-256 manifest, so it was never verified; name it to restore it."
                        for name in unverified if name > os.path.basename(path)]
        unverified = [name for name in unverified if name <= os.path.basename(path)]
        if not verifying:
            return {"path": path}, passed_over
        try:
            return verify(path, pg_restore, environment, database), passed_over
        except PostgresError as exc:
            passed_over.append(str(exc))
    return None, passed_over


def chosen_backup(backup, directory, database, pg_restore, environment, source_database=None):
    """The backup option's backup, verified: for ``latest`` the newest that verifies, else the one named
    (relative to the folder, or absolute). Returns it and why newer ones were passed over."""
    if backup.strip().lower() == "latest":
        return newest_verifying(directory, database, pg_restore, environment)
    return verify(os.path.join(directory, backup.strip()), pg_restore, environment, source_database or database), []


# Running the client programs

def conninfo(database):
    """A connection string naming only the database: the rest comes from the environment."""
    quoted = database.replace("\\", "\\\\").replace("'", "\\'")
    return f"dbname='{quoted}'"


def has_line_starting(block, beginnings):
    return any(block.startswith(beginning) or b"\n" + beginning in block for beginning in beginnings)


def restricted(path):
    """A plain SQL file in blocks, behind a \\restrict with a key nobody can know in advance.

    Most blocks hold no line that matters (one that starts with a backslash or COPY outside COPY data,
    or the end of COPY data inside it) and pass whole; only the others are looked at line by line.
    """
    yield b"\\restrict " + secrets.token_hex(16).encode() + b"\n"
    in_copy = False
    with open_plain(path) as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            block += source.readline()  # to the end of the line it stopped in
            if not has_line_starting(block, NOTABLE_IN_COPY if in_copy else NOTABLE_OUTSIDE):
                yield block
                continue
            kept = []
            for line in block.splitlines(keepends=True):
                if in_copy:
                    in_copy = line.rstrip(b"\r\n") != END_OF_COPY
                elif OWN_RESTRICT.match(line):
                    continue
                elif COPY_FROM_STDIN.match(line):
                    in_copy = True
                kept.append(line)
            yield b"".join(kept)


def run_client(command, environment, stdin_from=None):
    """Run pg_restore or psql; stderr goes to a file, so a long error log never fills a pipe."""
    with tempfile.TemporaryFile() as errors_file:
        if stdin_from is None:
            returncode = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=errors_file, env=environment,
                                        check=False).returncode
        else:
            with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors_file,
                                  env=environment) as process:
                try:
                    for block in restricted(stdin_from):
                        process.stdin.write(block)
                except BrokenPipeError:
                    pass  # psql stopped at an error; its stderr says which
                finally:
                    process.stdin.close()
            returncode = process.returncode
        errors_file.seek(0)
        messages = [line for line in errors_file.read().decode("utf-8", "replace").splitlines() if line.strip()]
    if returncode != 0:
        wrong = [line for line in messages if "error" in line.lower()] or messages or [f"exit status {returncode}"]
        raise PostgresError(" ".join(" ".join(wrong[:3]).split()))
    return messages


def restore_command(backup, pg_restore, psql, database, jobs, in_place, no_owner=False):
    """The client program that loads the backup, and the file it reads from its standard input, if any."""
    if backup["format"] in ("custom", "directory"):
        command = [pg_restore, "--dbname", conninfo(database), "--exit-on-error", "--no-password"]
        command += ["--no-owner", "--no-acl"] if no_owner else []
        # One transaction and parallel jobs exclude each other; in place, all or nothing matters more.
        command += ["--clean", "--if-exists", "--single-transaction"] if in_place else ["--jobs", str(jobs)]
        return command + [backup["path"]], None
    command = [psql, "--no-psqlrc", "--quiet", "--no-password", "--set", "ON_ERROR_STOP=1", "--single-transaction",
               "--dbname", conninfo(database), "--file", "-"]
    return command, backup["path"]


# The live database, its sessions and its properties

class Server:
    """An autocommit connection to the maintenance database, from which databases are created and swapped."""

    def __init__(self, connection):
        self.connection = connection
        self.cursor = connection.cursor()

    def one(self, query, params=None):
        self.cursor.execute(query, params)
        return self.cursor.fetchone()

    def database(self, name):
        """The live database's properties, or None when it does not exist."""
        # The locale provider and ICU locale exist from PostgreSQL 15 on.
        icu = "d.datlocprovider = 'i', d.daticulocale" if self.connection.server_version >= 150000 else "false, null"
        row = self.one("SELECT d.oid, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datcollate,"
                       " d.datctype, d.datconnlimit, d.datacl IS NOT NULL, shobj_description(d.oid, 'pg_database'),"
                       f" t.spcname, {icu} FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace"
                       " WHERE d.datname = %s", [name])
        if row is None:
            return None
        keys = ("oid", "owner", "encoding", "collate", "ctype", "connection_limit", "has_acl", "comment",
                "tablespace", "icu", "icu_locale")
        return dict(zip(keys, row))

    def identity(self, name):
        """The server's own identifier and the database, the same however the server is addressed."""
        try:
            system = self.one("SELECT system_identifier FROM pg_control_system()")[0]
        except psycopg2.Error:
            system = "{}:{}".format(*self.one("SELECT inet_server_addr(), inet_server_port()"))
        return f"{system}/{name}"

    def may_swap(self, name, exists):
        """Whether this role may create databases and rename the live one."""
        superuser, createdb, owns = self.one(
            "SELECT r.rolsuper, r.rolcreatedb, coalesce((SELECT pg_has_role(current_user, d.datdba, 'MEMBER')"
            " FROM pg_database d WHERE d.datname = %s), false) FROM pg_roles r WHERE r.rolname = current_user", [name])
        return superuser or (createdb and (owns or not exists))

    def create_like(self, name, live):
        """An empty database with the live one's encoding, collation, locale provider and tablespace."""
        options = [sql.SQL("TEMPLATE template0")]
        if live:
            options.append(sql.SQL("ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
                sql.Literal(live["encoding"]), sql.Literal(live["collate"]), sql.Literal(live["ctype"])))
            # Named, even pg_default needs the CREATE privilege on it, which ordinary roles lack.
            if live["tablespace"] != "pg_default":
                options.append(sql.SQL("TABLESPACE {}").format(sql.Identifier(live["tablespace"])))
            if live["icu"]:
                options.append(sql.SQL("LOCALE_PROVIDER icu ICU_LOCALE {}").format(sql.Literal(live["icu_locale"])))
        self.cursor.execute(sql.SQL("CREATE DATABASE {} ").format(sql.Identifier(name)) + sql.SQL(" ").join(options))

    def copy_properties(self, live, name):
        """Give the new database the live one's owner, limits, comment, grants and settings; return what could
        not be copied (a setting only a superuser may set, a role's setting without CREATEROLE)."""
        target = sql.Identifier(name)
        not_copied = []
        self.cursor.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(target, sql.Identifier(live["owner"])))
        self.cursor.execute(sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(
            target, sql.Literal(live["connection_limit"])))
        if live["comment"] is not None:
            self.cursor.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(target, sql.Literal(live["comment"])))
        if live["has_acl"]:
            self.cursor.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(target))
            self.cursor.execute("SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END,"
                                " a.privilege_type, a.is_grantable FROM pg_database d, aclexplode(d.datacl) a"
                                " WHERE d.oid = %s", [live["oid"]])
            for grantee, privilege, grantable in self.cursor.fetchall():
                self.cursor.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                    sql.SQL(privilege), target, sql.Identifier(grantee) if grantee else sql.SQL("PUBLIC"),
                    sql.SQL(" WITH GRANT OPTION" if grantable else "")))
        self.cursor.execute("SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END,"
                            " s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = %s", [live["oid"]])
        for role, settings in self.cursor.fetchall():
            scope = sql.SQL("ROLE {} IN DATABASE {}").format(sql.Identifier(role), target) if role \
                else sql.SQL("DATABASE {}").format(target)
            for setting in settings:
                key, value = setting.split("=", 1)
                try:
                    self.cursor.execute(sql.SQL("ALTER {} SET {} TO {}").format(
                        scope, sql.Identifier(key), setting_values(key, value)))
                except errors.InsufficientPrivilege as exc:
                    who = f"role {role} in the database" if role else "the database"
                    not_copied.append(f"The setting {setting} of {who} was not copied ({str(exc).strip()}); "
                                      "set it again as a superuser.")
        return not_copied

    def allow_connections(self, name, allowed):
        self.cursor.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.Literal(allowed)))

    def end_sessions(self, name, timeout):
        """Terminate every other session of the database and wait until they are gone; return how many."""
        deadline = time.monotonic() + timeout
        ended = set()
        while True:
            self.cursor.execute("SELECT pid, usename FROM pg_stat_activity WHERE datname = %s"
                                " AND pid <> pg_backend_pid()", [name])
            sessions = self.cursor.fetchall()
            if not sessions:
                return len(ended)
            if time.monotonic() > deadline:
                users = ", ".join(sorted({str(user) for dummy, user in sessions}))
                raise PostgresError(f"{len(sessions)} session(s) of {name} (of {users}) did not end within {timeout} s;"
                                    " this role may not be allowed to end them (it needs pg_signal_backend).")
            for pid, dummy in sessions:
                try:
                    self.cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
                    ended.add(pid)
                except errors.InsufficientPrivilege:
                    pass  # reported above if the session outlives the timeout
            time.sleep(0.1)

    def swap(self, live, scratch, replaced, timeout):
        """Rename live -> replaced and scratch -> live in one transaction; retry while a session slips in."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connection.autocommit = False
                if replaced:
                    self.cursor.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(live), sql.Identifier(replaced)))
                self.cursor.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(scratch), sql.Identifier(live)))
                self.connection.commit()
                return
            except errors.ObjectInUse:
                # An autovacuum worker or a session that was connecting when connections were blocked.
                self.connection.rollback()
                if time.monotonic() > deadline:
                    raise
                self.connection.autocommit = True
                for name in (live, scratch):
                    self.end_sessions(name, max(deadline - time.monotonic(), 0))
            finally:
                self.connection.autocommit = True

    def drop(self, name):
        force = sql.SQL(" WITH (FORCE)") if self.connection.server_version >= 130000 else sql.SQL("")
        self.cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)


def open_server(settings, maintenance_database):
    """The Server of the database in ``settings``, reached through its maintenance database."""
    return Server(connect({**settings, "dbname": maintenance_database}, autocommit=True,
                          name=f"the server of {describe(settings)} (its database {maintenance_database})"))


def setting_values(key, value):
    """A stored setting as the SQL that sets it again; list settings item by item, so quoting survives."""
    if key not in LIST_SETTINGS:
        return sql.Literal(value)
    items, current, quoted = [], "", False
    for character in value:
        if character == '"':
            quoted = not quoted
        elif character == "," and not quoted:
            items.append(current.strip())
            current = ""
            continue
        current += character
    items.append(current.strip())
    names = [item[1:-1].replace('""', '"') if item.startswith('"') else item for item in items]
    return sql.SQL(", ").join(sql.Literal(name) for name in names)


def holds_table(backup, table):
    """Whether an archive holds the table, named with or without its schema; plain files are not listed."""
    if "tables" not in backup:
        return True
    return table in backup["tables"] or any(name.split(".", 1)[1] == table for name in backup["tables"])


def check_restored(connection, check_query, expected_rows):
    """Run the check query and count the rows of the tables given; raise on any difference."""
    counted = {}
    with connection.cursor() as cursor:
        try:
            cursor.execute(check_query)
            row = cursor.fetchone() if cursor.description else None
        except psycopg2.Error as exc:
            raise PostgresError(f"The check query failed: {' '.join(str(exc).split())}") from None
        if not row or not row[0]:
            said = "no row" if not row else "NULL" if row[0] is None else repr(row[0]).lower()
            raise PostgresError(f"The check query returned {said}, not a true value.")
        for table, expected in (expected_rows or {}).items():
            try:
                cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".", 1))))
            except psycopg2.Error as exc:
                raise PostgresError(f"Counting the rows of {table} failed: {' '.join(str(exc).split())}") from None
            counted[table] = cursor.fetchone()[0]
            if counted[table] != expected:
                raise PostgresError(f"{table} has {counted[table]} rows after the restore, not the {expected} expected.")
    return counted
