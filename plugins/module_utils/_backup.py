# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Verified pg_dump backups: written under a temporary name, checked, then named; checksummed; pruned.

Private to this collection: the interface may change in any release.

A backup counts as verified when its SHA-256 manifest stands beside it; the manifest is written
only after pg_restore has read the archive's table of contents.

A backup may have a summary of its tables beside it (SUMMARY: row counts and checksums, see _tables),
read in the very snapshot pg_dump dumps. It is written before the manifest, so a verified backup that
was meant to have one has it, and it is not listed in the manifest: a restore must not depend on it,
and a summary that no longer matches the data is what a restore drill exists to find.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError

NAME = re.compile(r"^(?P<database>.+)_(?P<stamp>\d{8}T\d{6}Z)\.dump$")
# The copy of a live database that a restore takes before replacing it.
SAFETY_NAME = re.compile(r"^(?P<database>.+)_(?P<stamp>\d{8}T\d{6}Z)\.pre-restore\.dump$")
STAMP = "%Y%m%dT%H%M%SZ"
# What stands beside a backup: its manifest and, when asked for, the summary of its tables.
MANIFEST = ".sha256"
SUMMARY = ".tables.json"


def backup_name(database, now):
    return f"{database}_{now.strftime(STAMP)}.dump"


def safety_backup_name(database, now):
    return f"{database}_{now.strftime(STAMP)}.pre-restore.dump"


def sha256_lines(path):
    """``sha256sum`` lines for a file, or for every file of a directory archive."""
    folder = os.path.dirname(path)
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, name) for root, dummy, names in os.walk(path) for name in names)
    lines = []
    for name in files:
        digest = hashlib.sha256()
        with open(name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        lines.append(f"{digest.hexdigest()}  {os.path.relpath(name, folder)}")
    return lines


def checksum_of(lines):
    """One SHA-256 for a backup: the archive's own, or that of the manifest's lines for a directory archive."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest() if len(lines) > 1 else lines[0].split()[0]


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name)) for root, dummy, names in os.walk(path) for name in names)


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.unlink(path)


def table_of_contents(pg_restore, archive, environment):
    """What pg_restore reads in the archive's table of contents: its entries and the database dumped."""
    done = subprocess.run([pg_restore, "--list", archive], capture_output=True, text=True, env=environment,
                          check=False)
    if done.returncode != 0:
        reason = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise PostgresError(f"pg_restore cannot read the archive {archive}: {reason}.")
    header = re.search(r"^;\s+dbname: (.*)$", done.stdout, re.MULTILINE)
    return {"entries": sum(1 for line in done.stdout.splitlines() if line.strip() and not line.startswith(";")),
            "dbname": header.group(1) if header else None,
            "tables": re.findall(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+ \S+) ", done.stdout, re.MULTILINE)}


def run_pg_dump(command, environment, summarise):
    """Run pg_dump, and ``summarise`` while it runs; return its exit status, its stderr and the summary.

    stderr goes to a file, so that a long error log never fills a pipe while ``summarise`` reads.
    """
    with tempfile.TemporaryFile() as errors_file:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors_file, env=environment)
        try:
            summary = summarise() if summarise else None
            process.wait()
        except BaseException:
            # A failed summary, or a cancelled job: pg_dump does not go on alone.
            process.kill()
            process.wait()
            raise
        errors_file.seek(0)
        return process.returncode, errors_file.read().decode("utf-8", "replace"), summary


def write_file(path, text):
    """Write under a temporary name, then rename: a file under its final name is always whole."""
    with open(path + ".partial", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.rename(path + ".partial", path)


def dump(pg_dump, pg_restore, directory, database, archive_format, jobs, environment, name=None, snapshot=None,
         summarise=None):
    """Dump, verify and name one backup; return what a module reports. Leaves nothing behind on failure.

    ``snapshot``, from pg_export_snapshot() in a transaction kept open meanwhile, makes pg_dump dump the
    data as that transaction sees it; ``summarise`` then reads the same rows in that transaction while
    pg_dump runs, and what it returns is written beside the backup (SUMMARY) before the manifest.
    """
    name = name or backup_name(database, datetime.datetime.now(datetime.timezone.utc))
    final = os.path.join(directory, name)
    # Unique per run: two backups started in the same second must not share, or remove, each other's file.
    partial = os.path.join(directory, f".{name}.{os.getpid()}.partial")
    command = [pg_dump, "--format", archive_format, "--file", partial, "--no-password"]
    if archive_format == "directory":
        command += ["--jobs", str(jobs)]
    if snapshot:
        command += ["--snapshot", snapshot]

    started = time.monotonic()
    named = False
    try:
        returncode, stderr, summary = run_pg_dump(command, environment, summarise)
        problems = [line for line in stderr.splitlines() if "error" in line.lower()]
        if returncode != 0 or problems:
            reason = " ".join((problems or stderr.splitlines() or [f"exit status {returncode}"])[:3])
            raise PostgresError(f"pg_dump of {database} failed: {reason}")
        if size_of(partial) == 0:
            raise PostgresError(f"pg_dump of {database} wrote an empty archive.")
        entries = table_of_contents(pg_restore, partial, environment)["entries"]
        if entries == 0:
            raise PostgresError(f"The archive of {database} has an empty table of contents.")
        if os.path.exists(final):
            raise PostgresError(f"A backup named {final} already exists (another backup started in the same "
                                "second); run again.")
        os.rename(partial, final)
        named = True

        lines = sha256_lines(final)
        if summarise:
            write_file(final + SUMMARY, json.dumps(summary, indent=1, sort_keys=True) + "\n")
        write_file(final + MANIFEST, "\n".join(lines) + "\n")
    except BaseException:
        remove(partial)
        if named:
            # Not a verified backup after all (a full disk while writing beside it): none of it stays.
            for path in (final, final + SUMMARY, final + SUMMARY + ".partial", final + MANIFEST + ".partial"):
                remove(path)
        raise

    return {
        "path": final,
        "manifest": final + MANIFEST,
        "size_bytes": size_of(final),
        "checksum": checksum_of(lines),
        "toc_entries": entries,
        "duration": round(time.monotonic() - started, 3),
        "warnings": [line for line in stderr.splitlines() if line.strip()],
    }


def stamp_of(match):
    """The UTC time in a backup's name, or None when it is no time at all (20261399T999999Z)."""
    try:
        return datetime.datetime.strptime(match.group("stamp"), STAMP).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def dated_in_the_future(stamp):
    # A few minutes of clock difference between hosts are no reason to distrust a backup.
    return stamp > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)


def verified_backups(directory, database):
    """This database's backups that have a manifest, newest first, as ``(time, path)``. A name that holds no
    real time, or one in the future, is left out: it would pass for the newest backup for ever."""
    found = []
    for name in os.listdir(directory):
        match = NAME.match(name)
        if match and match.group("database") == database and os.path.exists(os.path.join(directory, name + MANIFEST)):
            stamp = stamp_of(match)
            if stamp is not None and not dated_in_the_future(stamp):
                found.append((stamp, os.path.join(directory, name)))
    return sorted(found, reverse=True)


def safety_backups(directory, database):
    """This database's safety backups, as ``(time, path)``."""
    found = []
    for name in os.listdir(directory):
        match = SAFETY_NAME.match(name)
        if match and match.group("database") == database and stamp_of(match) is not None:
            found.append((stamp_of(match), os.path.join(directory, name)))
    return found


def prune(directory, database, keep_count=None, keep_days=None, now=None, check_mode=False):
    """Remove verified backups beyond the count or older than the age, never the newest one; and safety
    backups older than the age. In check mode, the backup about to be taken counts as the newest."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    backups = verified_backups(directory, database)
    # Position 0 is the newest, which stays: the new backup, or in check mode the one about to be taken.
    older = backups if check_mode else backups[1:]
    doomed = []
    for position, (stamp, path) in enumerate(older, start=1):
        too_many = keep_count is not None and position >= keep_count
        too_old = keep_days is not None and (now - stamp).total_seconds() > keep_days * 86400
        if too_many or too_old:
            doomed.append(path)
    if keep_days is not None:
        doomed += sorted(path for stamp, path in safety_backups(directory, database)
                         if (now - stamp).total_seconds() > keep_days * 86400)
    if not check_mode:
        for path in doomed:
            remove(path)
            remove(path + MANIFEST)
            remove(path + SUMMARY)
    return doomed
