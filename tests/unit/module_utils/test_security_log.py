"""The security log's readers on odd text: years a line does not name, time formats, endless lines."""
import datetime
import gzip

import pytest

from ansible_collections.runbook.ops.plugins.module_utils._security_log import (
    LONGEST_LINE,
    file_lines,
    iso_moment,
    parse_line,
    syslog_moment,
    top_of,
)

UTC = datetime.timezone.utc
TOKYO = datetime.timezone(datetime.timedelta(hours=9))
# An offset with half an hour, west of UTC.
WEST_HALF_HOUR = datetime.timezone(-datetime.timedelta(hours=5, minutes=30))


# The host's local time is Tokyo's, so a traditional syslog line read as UTC would land nine hours off.
pytestmark = pytest.mark.usefixtures("tokyo_local_time")


def test_december_lines_read_in_january_belong_to_the_year_before():
    now = datetime.datetime(2027, 1, 2, 0, 30, tzinfo=TOKYO)
    assert syslog_moment(12, 31, 23, 59, 59, now) == datetime.datetime(2026, 12, 31, 23, 59, 59, tzinfo=TOKYO)
    assert syslog_moment(1, 2, 0, 30, 0, now) == datetime.datetime(2027, 1, 2, 0, 30, tzinfo=TOKYO)
    # A second later than now is still in the future this year: last year's.
    assert syslog_moment(1, 2, 0, 30, 1, now).year == 2026


def test_the_year_is_chosen_in_local_time_not_in_utc():
    # 00:30 on January 1st in Tokyo is still December 31st in UTC: the line is this (Tokyo) year's.
    now = datetime.datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert syslog_moment(1, 1, 0, 30, 0, now) == datetime.datetime(2027, 1, 1, 0, 30, tzinfo=TOKYO)


def test_february_29th_goes_back_to_the_last_leap_year():
    now = datetime.datetime(2027, 3, 1, tzinfo=UTC)
    assert syslog_moment(2, 29, 12, 0, 0, now).year == 2024


@pytest.mark.parametrize("text, expected", [
    ("2026-12-05T04:43:45Z", datetime.datetime(2026, 12, 5, 4, 43, 45, tzinfo=UTC)),
    ("2026-12-05 04:43:45.5+09:00", datetime.datetime(2026, 12, 5, 4, 43, 45, 500000, tzinfo=TOKYO)),
    ("2026-12-05T04:43:45.123456789-0530", datetime.datetime(2026, 12, 5, 4, 43, 45, 123456, tzinfo=WEST_HALF_HOUR)),
    ("2026-12-05T04:43:45", None),
    ("2026-12-05", None),
    ("2026-02-30T00:00:00Z", None),
    ("tomorrow", None),
])
def test_iso_times_need_a_date_a_time_and_an_offset(text, expected):
    assert iso_moment(text) == expected


def test_both_line_formats_and_lines_of_no_known_shape():
    now = datetime.datetime(2026, 12, 6, tzinfo=UTC)
    assert parse_line("Dec  5 04:43:45 web1 sshd[123]: Invalid user x from 192.0.2.1", now) == (
        datetime.datetime(2026, 12, 5, 4, 43, 45, tzinfo=TOKYO), "sshd", "123", "Invalid user x from 192.0.2.1")
    assert parse_line("2026-12-05T04:43:45.123456+09:00 web1 sudo[9]:    deploy : USER=root", now) == (
        datetime.datetime(2026, 12, 5, 4, 43, 45, 123456, tzinfo=TOKYO), "sudo", "9", "   deploy : USER=root")
    assert parse_line("Dec 15 04:43:45 web1 kernel: a message: with colons", now)[1:] == (
        "kernel", None, "a message: with colons")
    for odd in ("", "Foo  5 04:43:45 web1 sshd[1]: x", "Dec  5 04:43 web1 sshd[1]: x", "just words"):
        assert parse_line(odd, now) is None


def test_an_endless_line_is_cut_and_the_next_one_still_read(tmp_path):
    log = tmp_path / "auth.log.2.gz"
    with gzip.open(log, "wb") as opened:
        opened.write(b"A" * (LONGEST_LINE * 3 + 7) + b"\nnext \xff line\n")
    lines = file_lines(str(log))
    assert next(lines) == "A" * LONGEST_LINE
    assert next(lines) == "next \ufffd line"
    assert next(lines, None) is None


def test_rankings_put_the_most_first_and_ties_by_name():
    counts = {("b",): 2, ("a",): 2, ("c",): 5, (None,): 1}
    assert top_of(counts, 3, "user") == [{"user": "c", "count": 5}, {"user": "a", "count": 2},
                                         {"user": "b", "count": 2}]
    assert top_of(counts, 0, "user") == []
