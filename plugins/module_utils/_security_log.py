# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A host's security log summarised: failed and accepted SSH logins, and sudo use, within a time window.

Private to this collection: the interface may change in any release.

Lines come from syslog files (the current one and the rotated ones, plain or gzip) and from the systemd
journal's JSON. Every reader is a generator and the summary keeps counts only, so memory does not grow
with the size of a log. Of a sudo command only the program's name is kept, never its arguments, which can
hold passwords and tokens.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import re

UTC = datetime.timezone.utc
MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
# A longer line is cut here and the rest skipped: one endless line must not fill the memory.
LONGEST_LINE = 64 * 1024
# Since OpenSSH 9.8 the login work is logged by sshd-session (and from 10.0 partly by sshd-auth).
SSHD_PROGRAMS = frozenset({"sshd", "sshd-session", "sshd-auth"})
SUDO_PROGRAMS = frozenset({"sudo"})
# The lines of one SSH connection are tied together by its process id; a gap this long means the id
# has been reused by a new connection.
CONNECTION_GAP = datetime.timedelta(minutes=10)
OPEN_CONNECTIONS = 4096
# The journal and a file forwarded from it may stamp the same line a second apart.
DUPLICATE_SECONDS = (0, -1, 1)

ISO_MOMENT = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}:?\d{2})?$")
RFC3339_LINE = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))\s+(.*)$")
TRADITIONAL_LINE = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\s+(.*)$")
# After the time: host, then the program with its process id, then the message.
HOST_AND_PROGRAM = re.compile(r"(\S+)\s+([^\s\[:]+)(?:\[(\d+)\])?:\s?(.*)$")
REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?)\]$")

FAILED = re.compile(r"Failed (password|keyboard-interactive/pam) for (invalid user )?(.*?) from (\S+) port \d+")
INVALID_USER = re.compile(r"Invalid user (.*?) from (\S+)(?: port \d+)?$")
GAVE_UP = re.compile(r"(?:Connection closed by|Disconnected from) (?:authenticating|invalid) user (.*?) (\S+) port \d+"
                     r" \[preauth\]$")
PAM_FAILURE = re.compile(r"pam_unix\(sshd:auth\): authentication failure;(.*)$")
PAM_MORE_FAILURES = re.compile(r"PAM (\d+) more authentication failures?;(.*)$")
PAM_FIELD = re.compile(r"(?:^|\s)(rhost|user)=(\S*)")
ACCEPTED = re.compile(r"Accepted (\S+) for (.*?) from (\S+) port \d+")
SUDO_LINE = re.compile(r"\s*(\S+) : (.*)$")
SUDO_DENIALS = re.compile(r"(\d+ incorrect password attempts?|user NOT in sudoers|user NOT authorized on host"
                          r"|command not allowed)$")


class LogUnreadable(Exception):
    """A log exists but cannot be read; ``path`` names it and ``reason`` says why."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def iso_moment(text):
    """An aware datetime from ISO 8601 text with a date, a time and an offset (or Z); None for anything else.

    Parsed by hand rather than with fromisoformat, which reads Z and most fractions only from Python 3.11 on.
    """
    found = ISO_MOMENT.match(text.strip())
    if not found or not found[8]:
        return None
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    micro = int((found[7] or "0")[:6].ljust(6, "0"))
    offset = found[8].upper()
    if offset == "Z":
        zone = UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        zone = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        return None


def shown(moment):
    """A moment as the result shows it: UTC, to the second or finer, with a Z."""
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def syslog_moment(month, day, hour, minute, second, now):
    """A traditional syslog time, which has no year and no zone, as an aware datetime.

    The time is the host's local time; the year is the one that puts it at or before ``now``, so December
    lines read in January belong to the year before. (A February 29th goes back to the last leap year.)
    """
    # From the year after: in the host's zone, ``now`` may already be in the next year.
    for year in range(now.year + 1, now.year - 8, -1):
        try:
            moment = datetime.datetime(year, month, day, hour, minute, second).astimezone()
        except ValueError:
            continue
        if moment <= now:
            return moment
    return None


def parse_line(line, now, cache=None):
    """(moment, program, pid, message) of one syslog line, in either format; None for any other line.

    ``cache`` (a dict) keeps the last time read: lines come in bursts of the same second.
    """
    found = RFC3339_LINE.match(line)
    if found:
        stamp, rest = found[1], found[2]
    else:
        found = TRADITIONAL_LINE.match(line)
        if not found or found[1] not in MONTHS:
            return None
        stamp, rest = found.group(1, 2, 3, 4, 5), found[6]
    if cache is not None and cache.get("stamp") == stamp:
        moment = cache["moment"]
    else:
        if isinstance(stamp, str):
            moment = iso_moment(stamp)
        else:
            month, day, hour, minute, second = MONTHS[stamp[0]], *(int(part) for part in stamp[1:])
            moment = syslog_moment(month, day, hour, minute, second, now)
        if cache is not None:
            cache.update(stamp=stamp, moment=moment)
    parts = HOST_AND_PROGRAM.match(rest)
    if moment is None or not parts:
        return None
    return moment, parts[2], parts[3], parts[4]


# ----- sources -------------------------------------------------------------------------------------

def rotated_files(path, since):
    """The rotated copies of ``path`` that may hold lines from ``since`` on, oldest first.

    Both logrotate namings are found: numbered (``auth.log.1``, ``auth.log.2.gz``) and dated
    (``secure-20261201``). A copy last written before ``since`` holds nothing later, so it is skipped.
    """
    folder, name = os.path.split(path)
    rotated = re.compile(re.escape(name) + r"(?:\.\d+|-\d{8,10})(?:\.gz)?$")
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    found = []
    for entry in names:
        if rotated.match(entry):
            full = os.path.join(folder, entry)
            try:
                modified = os.stat(full).st_mtime
            except OSError:
                continue
            if modified >= since.timestamp():
                found.append((modified, full))
    return [full for _modified, full in sorted(found)]


def file_lines(path):
    """Yield the lines of a log file, plain or gzip, one at a time, as text.

    Raises LogUnreadable when the file cannot be opened or read.
    """
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as opened:
            while True:
                line = opened.readline(LONGEST_LINE)
                if not line:
                    return
                if not line.endswith(b"\n"):
                    # Cut: skip the rest of this line without holding it.
                    while True:
                        rest = opened.readline(LONGEST_LINE)
                        if not rest or rest.endswith(b"\n"):
                            break
                yield line.decode("utf-8", "replace").rstrip("\r\n")
    except PermissionError:
        raise LogUnreadable(path, "permission denied") from None
    except (OSError, EOFError) as exc:
        raise LogUnreadable(path, getattr(exc, "strerror", None) or str(exc)) from None


def syslog_entries(path, now):
    """Yield (moment, program, pid, message) of each line of a log file; all None for a line of no known shape."""
    cache = {}
    for line in file_lines(path):
        parsed = parse_line(line, now, cache)
        yield parsed if parsed else (None, None, None, None)


def journal_command(journalctl, since, until):
    """The journalctl arguments (a list: no shell) for the SSH and sudo entries of the window."""
    # Whole seconds since the epoch: no time zone to get wrong. The window is applied exactly afterwards.
    return [journalctl, "--no-pager", "--output=json",
            "--output-fields=MESSAGE,SYSLOG_IDENTIFIER,_COMM,SYSLOG_PID,_PID",
            f"--since=@{int(since.timestamp())}", f"--until=@{int(until.timestamp()) + 1}",
            # Terms on different fields would all have to match; "+" makes them alternatives.
            "_COMM=sshd", "+", "_COMM=sshd-session", "+", "_COMM=sshd-auth", "+", "SYSLOG_IDENTIFIER=sudo"]


def journal_entries(output):
    """Yield (moment, program, pid, message) for each JSON line of journalctl's output."""
    start = 0
    while start < len(output):
        end = output.find("\n", start)
        end = len(output) if end < 0 else end
        line, start = output[start:end].strip(), end + 1
        if not line:
            continue
        try:
            entry = json.loads(line)
            moment = datetime.datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, tz=UTC)
        except (ValueError, KeyError, TypeError):
            continue
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # a message that is not UTF-8 comes as its bytes
            message = bytes(message).decode("utf-8", "replace")
        program = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM")
        if isinstance(message, str) and isinstance(program, str):
            yield moment, program, entry.get("SYSLOG_PID") or entry.get("_PID"), message


# ----- the summary ---------------------------------------------------------------------------------

class Connection:
    """What one SSH connection logged about its failures, so that one attempt counts once.

    A wrong password is logged twice (by pam_unix and by sshd), an unknown user or a client giving up may be
    logged with or without a failure line: the connection's failures are the most that any one kind of line
    tells.
    """

    def __init__(self, moment):
        self.last = moment
        self.user = None
        self.address = None
        self.failed = 0
        self.pam = 0
        self.invalid = False
        self.gave_up = False

    def failures(self):
        return max(self.failed, self.pam, 1 if self.invalid or self.gave_up else 0)


def top_of(counts, top, *fields):
    """The ``top`` largest counts as dicts, the largest first, ties by name."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], tuple(str(part) for part in item[0])))
    return [{**dict(zip(fields, key)), "count": count} for key, count in ordered[:top]]


def add_to(counts, key, number=1):
    counts[key] = counts.get(key, 0) + number


class Summary:
    """Counts of a window's security events: feed it lines with ``read``, then take ``result(top)``."""

    def __init__(self, since, until):
        self.since = since
        self.until = until
        self.sources = []
        self.first_seen = None
        self.last_seen = None
        self.failed = {"count": 0, "invalid_users": 0, "user": {}, "address": {}}
        self.accepted = {"count": 0, "user": {}, "address": {}, "method": {}}
        self.sudo = {"count": 0, "failures": 0, "user": {}, "command": {}}
        self.connections = {}
        # Events already read from the journal, to skip them in a file that rsyslog fed from it.
        self.journal_events = set()

    def read(self, name, entries, remember=False):
        """Count the entries, (moment, program, pid, message) each, of one source named ``name``.

        With ``remember``, the source is the journal: its events are kept to skip their copies in files.
        """
        source = {"source": name, "lines_read": 0, "lines_in_window": 0, "duplicates": 0}
        self.sources.append(source)
        for moment, program, pid, message in entries:
            source["lines_read"] += 1
            if moment is None or not self.since <= moment < self.until:
                continue
            source["lines_in_window"] += 1
            if program not in SSHD_PROGRAMS and program not in SUDO_PROGRAMS:
                continue
            family = "sshd" if program in SSHD_PROGRAMS else "sudo"
            identity = (family, str(pid), message)
            second = int(moment.timestamp())
            if remember:
                self.journal_events.add((identity, second))
            elif self.journal_events and any((identity, second + delta) in self.journal_events
                                             for delta in DUPLICATE_SECONDS):
                source["duplicates"] += 1
                continue
            repeated = REPEATED.match(message)
            times, message = (int(repeated[1]), repeated[2]) if repeated else (1, message)
            for _time in range(min(times, 1000)):
                if family == "sshd":
                    self.sshd(moment, pid, message)
                else:
                    self.sudo_line(moment, message)

    def seen(self, moment):
        self.first_seen = moment if self.first_seen is None else min(self.first_seen, moment)
        self.last_seen = moment if self.last_seen is None else max(self.last_seen, moment)

    def connection(self, moment, pid):
        key = str(pid)
        known = self.connections.pop(key, None)
        if known is not None and abs(moment - known.last) > CONNECTION_GAP:
            self.close(known)
            known = None
        if known is None:
            known = Connection(moment)
            if len(self.connections) >= OPEN_CONNECTIONS:
                self.close(self.connections.pop(next(iter(self.connections))))
        known.last = moment
        # Re-inserted last: the first one in the dict is always the longest idle.
        self.connections[key] = known
        return known

    def close(self, connection):
        failures = connection.failures()
        if failures:
            self.failed["count"] += failures
            self.failed["invalid_users"] += 1 if connection.invalid else 0
            add_to(self.failed["user"], (connection.user,), failures)
            add_to(self.failed["address"], (connection.address,), failures)

    def sshd(self, moment, pid, message):
        accepted = ACCEPTED.match(message)
        if accepted:
            self.accepted["count"] += 1
            add_to(self.accepted["method"], (accepted[1],))
            add_to(self.accepted["user"], (accepted[2],))
            add_to(self.accepted["address"], (accepted[3],))
            self.seen(moment)
            return

        failed, invalid, gave_up = FAILED.match(message), INVALID_USER.match(message), GAVE_UP.match(message)
        pam = PAM_FAILURE.match(message) or PAM_MORE_FAILURES.match(message)
        if not (failed or invalid or gave_up or pam):
            return
        connection = self.connection(moment, pid)
        if failed:
            connection.failed += 1
            connection.user, connection.address = failed[3], failed[4]
            connection.invalid = connection.invalid or bool(failed[2])
        elif invalid:
            connection.invalid = True
            connection.user, connection.address = invalid[1], invalid[2]
        elif gave_up:
            connection.gave_up = True
            connection.user, connection.address = gave_up[1], gave_up[2]
        else:
            fields = dict(PAM_FIELD.findall(pam[pam.lastindex]))
            connection.pam += 1 if pam.re is PAM_FAILURE else int(pam[1])
            connection.user = connection.user or fields.get("user") or None
            connection.address = connection.address or fields.get("rhost") or None
        self.seen(moment)

    def sudo_line(self, moment, message):
        found = SUDO_LINE.match(message)
        if not found:
            return
        user, parts = found[1], found[2].split(" ; ")
        fields = dict(part.split("=", 1) for part in parts if "=" in part)
        if SUDO_DENIALS.match(parts[0]):
            self.sudo["failures"] += 1
        elif "COMMAND" in fields:
            target = fields.get("USER", "root")
            # The program's name only: its arguments can hold passwords and tokens.
            words = fields["COMMAND"].split()
            command = os.path.basename(words[0]) if words else ""
            self.sudo["count"] += 1
            add_to(self.sudo["user"], (user, target))
            add_to(self.sudo["command"], (user, target, command))
        else:
            return
        self.seen(moment)

    def result(self, top):
        for connection in self.connections.values():
            self.close(connection)
        self.connections = {}
        return {
            "failed_logins": {
                "count": self.failed["count"],
                "invalid_users": self.failed["invalid_users"],
                "by_user": top_of(self.failed["user"], top, "user"),
                "by_address": top_of(self.failed["address"], top, "address"),
            },
            "accepted_logins": {
                "count": self.accepted["count"],
                "by_user": top_of(self.accepted["user"], top, "user"),
                "by_address": top_of(self.accepted["address"], top, "address"),
                "by_method": top_of(self.accepted["method"], top, "method"),
            },
            "sudo": {
                "count": self.sudo["count"],
                "failures": self.sudo["failures"],
                "by_user": top_of(self.sudo["user"], top, "user", "target"),
                "commands": top_of(self.sudo["command"], top, "user", "target", "command"),
            },
            "sources": self.sources,
            "since": shown(self.since),
            "until": shown(self.until),
            "first_seen": shown(self.first_seen),
            "last_seen": shown(self.last_seen),
        }
