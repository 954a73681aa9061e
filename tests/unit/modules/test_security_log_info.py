"""security_log_info's real main() on log files written to tmp_path, and on a stand-in journalctl."""
import datetime
import gzip
import json
import os
import stat
import sys

import pytest

from ansible_collections.runbook.ops.plugins.module_utils import _security_log
from ansible_collections.runbook.ops.plugins.modules import security_log_info

UTC = datetime.timezone.utc
SECRET = "hunter2-security-log-5c9e"
# Whole seconds, an hour ago: every line of a test sits around it.
NOW = datetime.datetime.now(UTC).replace(microsecond=0)
SINCE = NOW - datetime.timedelta(hours=6)
UNTIL = NOW - datetime.timedelta(hours=1)


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def rfc3339(moment, program, message):
    """A line as rsyslog writes it on Debian 12, in Tokyo's offset."""
    local = moment.astimezone(datetime.timezone(datetime.timedelta(hours=9)))
    return f"{local.isoformat(timespec='microseconds')} web1 {program}: {message}\n"


def traditional(moment, program, message):
    """A line in the traditional format, in the host's local time, without a year."""
    local = moment.astimezone()
    return f"{local:%b} {local.day:>2} {local:%H:%M:%S} web1 {program}: {message}\n"


def at(minutes):
    """A moment ``minutes`` after SINCE."""
    return SINCE + datetime.timedelta(minutes=minutes)


def write(path, *lines, modified=None):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt") as opened:
        opened.writelines(lines)
    if modified is not None:
        os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


def log_args(*paths, **options):
    return {"paths": [str(path) for path in paths], "since": iso(SINCE), "until": iso(UNTIL), **options}


# The host's local time is Tokyo's, so a traditional syslog line read as UTC would land nine hours off.
pytestmark = pytest.mark.usefixtures("tokyo_local_time")


def test_both_formats_are_read_and_only_the_window_counts(run, tmp_path):
    rfc = write(tmp_path / "auth.log",
                rfc3339(SINCE - datetime.timedelta(seconds=1), "sshd[10]",
                        "Accepted publickey for early from 192.0.2.1 port 1 ssh2"),
                rfc3339(SINCE, "sshd[11]",
                        "Accepted publickey for deploy from 192.0.2.10 port 2 ssh2: ED25519 SHA256:x"),
                rfc3339(at(5), "cron[12]", "pam_unix(cron:session): session opened for user root"),
                rfc3339(at(10), "sshd[13]", "Accepted password for alice from 192.0.2.11 port 3 ssh2"))
    old_style = write(tmp_path / "secure",
                      traditional(at(20), "sshd[14]",
                                  "Accepted keyboard-interactive/pam for deploy from 192.0.2.10 port 4 ssh2"),
                      traditional(UNTIL - datetime.timedelta(seconds=1), "sshd[15]",
                                  "Accepted publickey for deploy from 192.0.2.10 port 5 ssh2"),
                      traditional(UNTIL, "sshd[16]", "Accepted publickey for late from 192.0.2.2 port 6 ssh2"),
                      "a line of no known shape\n")

    result = run(security_log_info, log_args(rfc, old_style))

    assert result["changed"] is False and "failed" not in result
    accepted = result["accepted_logins"]
    assert accepted["count"] == 4
    assert accepted["by_user"] == [{"user": "deploy", "count": 3}, {"user": "alice", "count": 1}]
    assert accepted["by_address"] == [{"address": "192.0.2.10", "count": 3}, {"address": "192.0.2.11", "count": 1}]
    assert accepted["by_method"] == [{"method": "publickey", "count": 2},
                                     {"method": "keyboard-interactive/pam", "count": 1},
                                     {"method": "password", "count": 1}]
    assert result["first_seen"] == iso(SINCE) and result["last_seen"] == iso(UNTIL - datetime.timedelta(seconds=1))
    assert result["since"] == iso(SINCE) and result["until"] == iso(UNTIL)
    assert result["sources"] == [
        {"source": str(rfc), "lines_read": 4, "lines_in_window": 3, "duplicates": 0},
        {"source": str(old_style), "lines_read": 4, "lines_in_window": 2, "duplicates": 0},
    ]
    assert result["missing"] == [] and result["failed_logins"]["count"] == 0 and result["sudo"]["count"] == 0


def test_the_lines_of_one_failed_attempt_count_once(run, tmp_path):
    pam = ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  "
           "user=root")
    log = write(tmp_path / "auth.log",
                # A wrong password, logged by pam_unix and by sshd, three times in one connection.
                *[line for _attempt in range(3) for line in (
                    rfc3339(at(1), "sshd[20]", pam),
                    rfc3339(at(1), "sshd[20]", "Failed password for root from 203.0.113.7 port 4000 ssh2"))],
                # An unknown user: announced, then its password fails once.
                rfc3339(at(2), "sshd[21]", "Invalid user oracle from 203.0.113.8 port 4001"),
                rfc3339(at(2), "sshd[21]", "pam_unix(sshd:auth): check pass; user unknown"),
                rfc3339(at(2), "sshd[21]", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                                           "ruser= rhost=203.0.113.8"),
                rfc3339(at(2), "sshd[21]", "Failed password for invalid user oracle from 203.0.113.8 port 4001 ssh2"),
                # An unknown user that gives up without a password.
                rfc3339(at(3), "sshd[22]", "Invalid user test from 203.0.113.8 port 4002"),
                rfc3339(at(3), "sshd[22]", "Connection closed by invalid user test 203.0.113.8 port 4002 [preauth]"),
                # A known user whose key was refused, and who gave up.
                rfc3339(at(4), "sshd[23]",
                        "Connection closed by authenticating user alice 198.51.100.4 port 4003 [preauth]"),
                # Only pam_unix speaks (keyboard-interactive).
                rfc3339(at(5), "sshd[24]", pam.replace("203.0.113.7", "203.0.113.9")),
                # A typo, then the right password: one failure, one login.
                rfc3339(at(6), "sshd[25]", "Failed password for bob from 198.51.100.5 port 4004 ssh2"),
                rfc3339(at(6), "sshd[25]", "Accepted password for bob from 198.51.100.5 port 4004 ssh2"),
                # sudo's own pam_unix failure is no SSH login.
                rfc3339(at(7), "sudo[26]", "pam_unix(sudo:auth): authentication failure; logname=carol uid=1000 euid=0 "
                                           "tty=/dev/pts/0 ruser=carol rhost=  user=carol"))

    result = run(security_log_info, log_args(log, top=3))

    failed = result["failed_logins"]
    assert failed["count"] == 3 + 1 + 1 + 1 + 1 + 1
    assert failed["invalid_users"] == 2
    assert failed["by_user"] == [{"user": "root", "count": 4}, {"user": "alice", "count": 1},
                                 {"user": "bob", "count": 1}]
    assert failed["by_address"] == [{"address": "203.0.113.7", "count": 3}, {"address": "203.0.113.8", "count": 2},
                                    {"address": "198.51.100.4", "count": 1}]
    assert result["accepted_logins"]["count"] == 1
    assert result["first_seen"] == iso(at(1)) and result["last_seen"] == iso(at(6))


def test_sudo_keeps_the_program_name_never_its_arguments(run, tmp_path):
    log = write(tmp_path / "auth.log",
                rfc3339(at(1), "sudo[30]", f"   deploy : TTY=pts/0 ; PWD=/srv/app ; USER=root ; "
                                           f"COMMAND=/usr/bin/mysql -uroot -p{SECRET} app"),
                rfc3339(at(2), "sudo[31]", "   deploy : TTY=pts/0 ; PWD=/srv/app ; USER=root ; "
                                           "COMMAND=/usr/bin/systemctl restart app"),
                rfc3339(at(3), "sudo[32]", "   deploy : TTY=pts/0 ; PWD=/srv/app ; USER=root ; "
                                           "COMMAND=/usr/bin/systemctl status app"),
                rfc3339(at(4), "sudo[33]", f"   deploy : TTY=pts/1 ; PWD=/srv/app ; USER=postgres ; "
                                           f"ENV=PGPASSWORD={SECRET} ; COMMAND=/usr/bin/psql --password={SECRET}"),
                rfc3339(at(5), "sudo[34]", f"   carol : 3 incorrect password attempts ; TTY=pts/2 ; PWD=/home/carol ; "
                                           f"USER=root ; COMMAND=/usr/bin/cat /root/{SECRET}"),
                rfc3339(at(6), "sudo[35]", "   mallory : user NOT in sudoers ; TTY=pts/3 ; PWD=/tmp ; USER=root ; "
                                           "COMMAND=/bin/sh"),
                rfc3339(at(7), "sudo[36]",
                        "pam_unix(sudo:session): session opened for user root(uid=0) by deploy(uid=1000)"))

    result = run(security_log_info, log_args(log), check=True)

    sudo = result["sudo"]
    assert sudo["count"] == 4 and sudo["failures"] == 2
    assert sudo["by_user"] == [{"user": "deploy", "target": "root", "count": 3},
                               {"user": "deploy", "target": "postgres", "count": 1}]
    assert sudo["commands"] == [{"user": "deploy", "target": "root", "command": "systemctl", "count": 2},
                                {"user": "deploy", "target": "postgres", "command": "psql", "count": 1},
                                {"user": "deploy", "target": "root", "command": "mysql", "count": 1}]
    assert result["changed"] is False
    assert SECRET not in result["_stdout"] and "hunter2" not in result["_stdout"]


def test_rotated_copies_written_since_the_start_are_read_oldest_first(run, tmp_path):
    log = tmp_path / "auth.log"
    failed = "Failed password for root from 203.0.113.7 port 1 ssh2"
    # Rotated before the window: whatever it holds, it is not read.
    stale = write(tmp_path / "auth.log.3.gz", rfc3339(at(1), "sshd[1]", failed),
                  modified=SINCE - datetime.timedelta(days=1))
    older = write(tmp_path / "auth.log.2.gz", traditional(at(10), "sshd[2]", failed), modified=at(11))
    newer = write(tmp_path / "auth.log.1", rfc3339(at(20), "sshd[3]", failed), modified=at(21))
    write(log, rfc3339(at(30), "sshd[4]", failed))
    write(tmp_path / "auth.log.bak", rfc3339(at(40), "sshd[5]", failed))  # not a rotated copy

    result = run(security_log_info, log_args(log))

    assert [source["source"] for source in result["sources"]] == [str(older), str(newer), str(log)]
    assert str(stale) not in result["_stdout"]
    assert result["failed_logins"]["count"] == 3
    assert result["first_seen"] == iso(at(10)) and result["last_seen"] == iso(at(30))


def test_dated_copies_are_read_even_when_the_log_itself_is_gone(run, tmp_path):
    copy = write(tmp_path / "secure-20261201", rfc3339(at(1), "sshd[1]", "Invalid user admin from 203.0.113.7"),
                 modified=at(2))

    result = run(security_log_info, log_args(tmp_path / "secure"))

    assert result["missing"] == [str(tmp_path / "secure")]
    assert [source["source"] for source in result["sources"]] == [str(copy)]
    assert result["failed_logins"]["invalid_users"] == 1


def test_missing_files_are_listed_and_none_at_all_fails_with_a_hint(run, tmp_path):
    log = write(tmp_path / "auth.log", rfc3339(at(1), "sshd[1]", "Accepted publickey for a from 192.0.2.1 port 1 ssh2"))
    result = run(security_log_info, log_args(log, tmp_path / "secure"))
    assert result["missing"] == [str(tmp_path / "secure")] and result["accepted_logins"]["count"] == 1

    result = run(security_log_info, log_args(tmp_path / "nothing.log", tmp_path / "secure"))
    assert result["failed"] is True
    assert result["msg"] == (f"No security log found: none of {tmp_path / 'nothing.log'}, {tmp_path / 'secure'} "
                             "exists. On a host that logs only to the systemd journal, set journal: true.")


def test_an_unreadable_file_fails_naming_it_and_what_to_do(run, tmp_path, monkeypatch):
    log = write(tmp_path / "auth.log", rfc3339(at(1), "sshd[1]", "Invalid user admin from 203.0.113.7"))
    real_open = open

    # Tests run as root here, which reads any file: the refusal is the one open() gives a user without rights.
    def refusing_open(path, *args, **kwargs):
        if str(path) == str(log):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_security_log, "open", refusing_open, raising=False)
    result = run(security_log_info, log_args(log))

    assert result["failed"] is True
    assert result["msg"] == (f"Cannot read {log}: permission denied. "
                             "Run the task with become: true, or add the connecting user to the group adm.")


@pytest.mark.parametrize("args, message", [
    ({"since": "2026-12-04T09:00:00"}, "since must be an ISO 8601 time with its offset, such as "
                                       "2026-12-04T09:00:00+09:00, not '2026-12-04T09:00:00'."),
    ({"since": "yesterday"}, "since must be an ISO 8601 time with its offset, such as 2026-12-04T09:00:00+09:00, "
                             "not 'yesterday'."),
    ({"until": "2026-13-01T00:00:00Z"}, "until must be an ISO 8601 time with its offset, such as "
                                        "2026-12-05T09:00:00+09:00, not '2026-13-01T00:00:00Z'."),
    ({"since": "2026-12-05T09:00:00+09:00", "until": "2026-12-05T00:00:00Z"},
     "since (2026-12-05T09:00:00+09:00) must be earlier than until (2026-12-05T00:00:00Z)."),
    ({"top": -1}, "top must be 0 or more, not -1."),
])
def test_bad_input_fails_before_anything_is_read(run, tmp_path, monkeypatch, args, message):
    def no_reading(path, now):
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(security_log_info, "syslog_entries", no_reading)
    log = write(tmp_path / "auth.log", rfc3339(at(1), "sshd[1]", "Invalid user admin from 203.0.113.7"))
    result = run(security_log_info, {**log_args(log), **args})
    assert result["failed"] is True and result["msg"] == message


def test_names_that_look_like_code_stay_plain_text(run, tmp_path):
    names = ["{{ lookup('pipe', 'id') }}", "$(reboot)", "'; DROP TABLE users; --", "<script>alert(1)</script>",
             "a user with spaces from here"]
    log = write(tmp_path / "auth.log", *[
        rfc3339(at(index), f"sshd[{40 + index}]", f"Invalid user {name} from 203.0.113.{index} port 22")
        for index, name in enumerate(names)])

    result = run(security_log_info, log_args(log))

    assert sorted(row["user"] for row in result["failed_logins"]["by_user"]) == sorted(names)
    assert sorted(row["address"] for row in result["failed_logins"]["by_address"]) == [
        f"203.0.113.{index}" for index in range(len(names))]


# ----- the journal --------------------------------------------------------------------------------

def entry(moment, program, pid, message):
    return json.dumps({"__REALTIME_TIMESTAMP": str(int(moment.timestamp() * 1e6)), "SYSLOG_IDENTIFIER": program,
                       "_COMM": program, "SYSLOG_PID": str(pid), "MESSAGE": message})


@pytest.fixture
def journalctl(tmp_path, monkeypatch):
    """A stand-in journalctl first on PATH: it prints ``entries.json`` and records its arguments, one a line."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "journalctl"
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"open({str(tmp_path / 'argv.txt')!r}, 'w').write('\\n'.join(sys.argv[1:]))\n"
                      f"sys.stdout.write(open({str(tmp_path / 'entries.json')!r}).read())\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "entries.json").write_text("")
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_the_journal_is_read_and_its_copies_in_a_file_count_once(run, journalctl):
    copied = "Failed password for root from 203.0.113.7 port 1 ssh2"
    (journalctl / "entries.json").write_text("\n".join([
        entry(at(1), "sshd", 50, copied),
        entry(at(2), "sudo", 51, "  deploy : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/journalctl -f"),
        entry(at(3), "sshd-session", 52, "Accepted publickey for deploy from 192.0.2.10 port 2 ssh2"),
        entry(UNTIL, "sshd", 53, "Invalid user late from 203.0.113.9"),  # journalctl's --until is inclusive
    ]) + "\n")
    # rsyslog copied the first line into the file, stamped a second later; the second line is the file's own.
    log = write(journalctl / "auth.log", rfc3339(at(1) + datetime.timedelta(seconds=1), "sshd[50]", copied),
                rfc3339(at(4), "sshd[54]", copied))

    result = run(security_log_info, log_args(log, journalctl / "secure", journal=True))

    argv = (journalctl / "argv.txt").read_text().splitlines()
    assert argv[:4] == ["--no-pager", "--output=json",
                        "--output-fields=MESSAGE,SYSLOG_IDENTIFIER,_COMM,SYSLOG_PID,_PID",
                        f"--since=@{int(SINCE.timestamp())}"]
    assert "SYSLOG_IDENTIFIER=sudo" in argv and "_COMM=sshd" in argv
    assert result["sources"] == [
        {"source": "journal", "lines_read": 4, "lines_in_window": 3, "duplicates": 0},
        {"source": str(log), "lines_read": 2, "lines_in_window": 2, "duplicates": 1},
    ]
    assert result["failed_logins"]["count"] == 2 and result["failed_logins"]["invalid_users"] == 0
    assert result["sudo"]["commands"] == [{"user": "deploy", "target": "root", "command": "journalctl", "count": 1}]
    assert result["accepted_logins"]["by_method"] == [{"method": "publickey", "count": 1}]


def test_the_journal_alone_is_enough_and_an_empty_one_is_not(run, journalctl):
    (journalctl / "entries.json").write_text(entry(at(1), "sshd", 60, "Invalid user pi from 203.0.113.7") + "\n")
    result = run(security_log_info, log_args(journalctl / "auth.log", journal=True))
    assert result["missing"] == [str(journalctl / "auth.log")] and result["failed_logins"]["invalid_users"] == 1

    (journalctl / "entries.json").write_text("")
    result = run(security_log_info, log_args(journalctl / "auth.log", journal=True))
    assert result["failed"] is True
    assert result["msg"] == (f"No security log found: none of {journalctl / 'auth.log'} exists "
                             "nor has the journal any entry in the window.")


# ----- a big file --------------------------------------------------------------------------------

def test_a_big_file_is_read_a_line_at_a_time(tmp_path):
    """Twenty megabytes of log are summarised while far less memory is ever held."""
    import tracemalloc

    line = rfc3339(at(1), "sshd[70]", "Failed password for root from 203.0.113.7 port 1 ssh2")
    noise = rfc3339(at(1), "kernel", "x" * 200)
    log = tmp_path / "auth.log"
    blocks = 20 * 1024 * 1024 // (len(line) + len(noise) * 9)
    with open(log, "w") as opened:
        for _block in range(blocks):
            opened.write(line + noise * 9)
    size = log.stat().st_size

    lines = _security_log.syslog_entries(str(log), NOW)
    assert iter(lines) is lines and not isinstance(lines, (list, tuple))

    summary = _security_log.Summary(SINCE, UNTIL)
    tracemalloc.start()
    try:
        summary.read(str(log), lines)
        result = summary.result(10)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result["sources"][0]["lines_read"] == result["sources"][0]["lines_in_window"] == blocks * 10
    assert result["failed_logins"]["count"] == blocks
    assert peak < size // 20
