"""postgres_backup_info on real backups of a throwaway cluster: the newest that verifies, its age, what is stale."""
import datetime
import os
import shutil

import pytest

from ansible_collections.runbook.ops.plugins.module_utils._backup import backup_name, dump
from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError
from ansible_collections.runbook.ops.plugins.module_utils._restore import newest_verifying
from ansible_collections.runbook.ops.plugins.modules import postgres_backup_info
from ansible_collections.runbook.ops.plugins.modules.postgres_backup_info import report
from tests.postgres_cluster import PASSWORD

DATABASE = "backup_info_shop"
OTHER = "backup_info_billing"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
# The backups of the folder every test copies, by how many hours before NOW each was taken.
SHOP_HOURS = (50, 26, 2)
OTHER_HOURS = (3,)


def hours_ago(hours):
    return NOW - datetime.timedelta(hours=hours)


def take(cluster, folder, database, when, archive_format="custom"):
    """A real verified backup, as postgres_backup takes it, named as if taken at ``when``."""
    environment = {**os.environ, "PGHOST": cluster.host, "PGPORT": str(cluster.port), "PGUSER": "runbook",
                   "PGPASSWORD": PASSWORD, "PGDATABASE": database}
    return dump("pg_dump", "pg_restore", str(folder), database, archive_format, 1, environment,
                name=backup_name(database, when))["path"]


@pytest.fixture(scope="module")
def backups(cluster, tmp_path_factory):
    """A folder with three backups of the shop and one of billing (in the directory format), each verified."""
    cluster.psql("CREATE TABLE orders AS SELECT n AS id FROM generate_series(1, 300) AS n", database=DATABASE)
    cluster.psql(f"CREATE DATABASE {OTHER}")
    cluster.psql("CREATE TABLE invoices (id int)", database=OTHER)
    folder = tmp_path_factory.mktemp("backups")
    for hours in SHOP_HOURS:
        take(cluster, folder, DATABASE, hours_ago(hours))
    for hours in OTHER_HOURS:
        take(cluster, folder, OTHER, hours_ago(hours), archive_format="directory")
    yield folder
    cluster.psql(f"DROP DATABASE {OTHER} WITH (FORCE)")


@pytest.fixture
def folder(backups, tmp_path):
    """A copy of the backups for one test to damage."""
    return shutil.copytree(backups, tmp_path / "backup")


def name_at(database, hours):
    return backup_name(database, hours_ago(hours))


def by_database(result):
    return {entry["database"]: entry for entry in result["backups"]}


def folder_size(path):
    return sum(os.path.getsize(os.path.join(root, name)) for root, dummy, names in os.walk(path) for name in names)


def test_the_newest_verified_backup_of_each_database(folder, run):
    before = datetime.datetime.now(datetime.timezone.utc)
    result = run(postgres_backup_info, {"backup_dir": str(folder), "max_age_hours": 24})
    after = datetime.datetime.now(datetime.timezone.utc)

    assert result["changed"] is False and result["stale"] is False
    assert [entry["database"] for entry in result["backups"]] == [OTHER, DATABASE]
    shop = by_database(result)[DATABASE]
    newest = name_at(DATABASE, 2)
    assert (shop["newest"], shop["path"]) == (newest, str(folder / newest))
    assert shop["created_at"] == hours_ago(2).strftime("%Y-%m-%dT%H:%M:%SZ")
    earliest, latest = ((moment - hours_ago(2)).total_seconds() / 3600 for moment in (before, after))
    assert round(earliest, 1) <= shop["age_hours"] <= round(latest, 1)
    assert shop["size_bytes"] == os.path.getsize(folder / newest)
    assert shop["verified"] is True and shop["count"] == 3
    assert (shop["passed_over"], shop["stale"], shop["problems"]) == ([], False, [])

    billing = by_database(result)[OTHER]
    assert billing["newest"] == name_at(OTHER, 3) and billing["count"] == 1 and billing["verified"] is True
    assert os.path.isdir(billing["path"]) and billing["size_bytes"] == folder_size(billing["path"])


def test_ages_and_times_come_from_the_name_not_the_file(folder):
    newest = folder / name_at(DATABASE, 2)
    os.utime(newest, (0, 0))

    entry = report(str(folder), DATABASE, True, "pg_restore", None, hours_ago(2) + datetime.timedelta(minutes=96))

    assert entry["newest"] == newest.name and entry["age_hours"] == 1.6
    assert entry["created_at"] == hours_ago(2).isoformat().replace("+00:00", "Z")


def test_older_than_max_age_hours_is_stale_and_says_why(folder):
    now = hours_ago(2) + datetime.timedelta(hours=30, minutes=12)

    fresh = report(str(folder), DATABASE, True, "pg_restore", 31, now)
    stale = report(str(folder), DATABASE, True, "pg_restore", 30, now)

    assert (fresh["stale"], fresh["problems"]) == (False, [])
    assert stale["stale"] is True and stale["age_hours"] == 30.2
    assert stale["problems"] == [f"The newest backup of {DATABASE}, {name_at(DATABASE, 2)}, is 30.2 hours old, older "
                                 "than max_age_hours (30)."]


def test_the_stale_flag_of_the_module(folder, run):
    # Between the shop's newest (2 hours before NOW) and billing's (3 hours), however long ago NOW was.
    since_now = (datetime.datetime.now(datetime.timezone.utc) - NOW).total_seconds() / 3600
    result = run(postgres_backup_info, {"backup_dir": str(folder), "max_age_hours": 2.5 + since_now})

    assert result["stale"] is True
    assert by_database(result)[OTHER]["stale"] is True and by_database(result)[DATABASE]["stale"] is False
    assert by_database(result)[OTHER]["problems"][0].startswith(f"The newest backup of {OTHER}, ")


@pytest.mark.parametrize("damage", ["flip a byte", "cut short", "another database's archive"])
def test_a_damaged_newest_backup_is_passed_over_for_the_one_before(folder, run, damage):
    newest = folder / name_at(DATABASE, 2)
    data = newest.read_bytes()
    if damage == "flip a byte":
        newest.write_bytes(data[:-40] + bytes([data[-40] ^ 1]) + data[-39:])
    elif damage == "cut short":
        newest.write_bytes(data[:-200])
    else:
        # Whole, and matching a manifest written for it under this name, but of billing.
        newest.unlink()
        shutil.copytree(folder / name_at(OTHER, 3), newest)
        (folder / (newest.name + ".sha256")).write_text(
            (folder / (name_at(OTHER, 3) + ".sha256")).read_text().replace(name_at(OTHER, 3), newest.name))

    result = run(postgres_backup_info, {"backup_dir": str(folder), "databases": [DATABASE]})

    [shop] = result["backups"]
    assert shop["newest"] == name_at(DATABASE, 26) and shop["verified"] is True and shop["count"] == 3
    [reason] = shop["passed_over"]
    assert newest.name in reason
    assert ("does not match its SHA-256 manifest" in reason if damage != "another database's archive"
            else f"is of the database {OTHER}, not of {DATABASE}" in reason)
    assert shop["stale"] is False and result["stale"] is False


def test_without_verify_the_newest_with_a_manifest_is_taken_unread(folder, run):
    newest = folder / name_at(DATABASE, 2)
    newest.write_bytes(b"PGDMP damaged")

    result = run(postgres_backup_info, {"backup_dir": str(folder), "databases": [DATABASE], "verify": False,
                                        "pg_restore": "/nonexistent/pg_restore"})

    [shop] = result["backups"]
    assert shop["newest"] == newest.name and shop["verified"] is False and shop["passed_over"] == []
    assert shop["size_bytes"] == len(b"PGDMP damaged") and shop["stale"] is False


def test_with_verify_a_missing_pg_restore_fails_clearly(folder, run):
    result = run(postgres_backup_info, {"backup_dir": str(folder), "pg_restore": "/nonexistent/pg_restore"})

    assert result["failed"] is True
    assert result["msg"].startswith("Cannot run /nonexistent/pg_restore --version: ")
    assert result["msg"].endswith("Install the PostgreSQL client programs.")


def test_a_backup_without_its_manifest_is_passed_over(folder, run):
    newest = folder / name_at(DATABASE, 2)
    (folder / (newest.name + ".sha256")).unlink()

    result = run(postgres_backup_info, {"backup_dir": str(folder), "databases": [DATABASE]})

    [shop] = result["backups"]
    assert shop["newest"] == name_at(DATABASE, 26) and shop["count"] == 2
    assert shop["passed_over"] == [f"{newest.name} has no SHA-256 manifest, so it was never verified; name it to "
                                   "restore it."]


def test_a_database_with_no_verified_backup_is_stale(folder, run):
    for hours in SHOP_HOURS:
        (folder / (name_at(DATABASE, hours) + ".sha256")).unlink()

    result = run(postgres_backup_info, {"backup_dir": str(folder), "databases": [DATABASE, "nothing_here"]})

    shop, nothing = result["backups"]
    assert result["stale"] is True and shop["stale"] is True and nothing["stale"] is True
    assert {key: shop[key] for key in ("newest", "path", "created_at", "age_hours", "size_bytes", "verified",
                                       "count")} == dict.fromkeys(
        ("newest", "path", "created_at", "age_hours", "size_bytes"), None) | {"verified": False, "count": 0}
    assert shop["problems"] == [f"No verified backup of {DATABASE} in {folder}. 3 backup(s) of it have no SHA-256 "
                                "manifest, so they were never verified."]
    assert nothing["problems"] == [f"No verified backup of nothing_here in {folder}."] and nothing["passed_over"] == []


def test_a_backup_named_in_the_future_is_never_the_newest(folder, run):
    future = folder / backup_name(DATABASE, NOW + datetime.timedelta(days=30))
    shutil.copy(folder / name_at(DATABASE, 2), future)
    (folder / (future.name + ".sha256")).write_text(
        (folder / (name_at(DATABASE, 2) + ".sha256")).read_text().replace(name_at(DATABASE, 2), future.name))

    result = run(postgres_backup_info, {"backup_dir": str(folder), "databases": [DATABASE]})

    [shop] = result["backups"]
    assert shop["newest"] == name_at(DATABASE, 2) and shop["count"] == 3
    assert shop["passed_over"] == [f"{future.name} is not dated by a real time in the past, so it cannot be the "
                                   "newest; name it to restore it."]


def test_databases_are_reported_once_each_in_the_order_given(folder, run):
    result = run(postgres_backup_info, {"backup_dir": str(folder), "databases": [DATABASE, OTHER, DATABASE]})

    assert [entry["database"] for entry in result["backups"]] == [DATABASE, OTHER]


def test_safety_backups_and_other_files_are_no_database(folder, run):
    (folder / f"{DATABASE}_20260101T000000Z.pre-restore.dump").write_text("safety")
    (folder / "notes.txt").write_text("not a backup")

    result = run(postgres_backup_info, {"backup_dir": str(folder)})

    assert [entry["database"] for entry in result["backups"]] == [OTHER, DATABASE]


def test_check_mode_reads_the_same(folder, run):
    checked = run(postgres_backup_info, {"backup_dir": str(folder)}, check=True)
    applied = run(postgres_backup_info, {"backup_dir": str(folder)})

    assert checked["changed"] is False
    assert [entry["newest"] for entry in checked["backups"]] == [entry["newest"] for entry in applied["backups"]]


def test_a_missing_folder_fails_clearly(run, tmp_path):
    result = run(postgres_backup_info, {"backup_dir": str(tmp_path / "nowhere")})

    assert result["failed"] is True
    assert result["msg"] == (f"The backup folder {tmp_path / 'nowhere'} does not exist (or is not a folder); check "
                             "backup_dir.")


def test_a_bad_max_age_hours_is_refused(run, tmp_path):
    result = run(postgres_backup_info, {"backup_dir": str(tmp_path), "max_age_hours": 0})

    assert result["failed"] is True and result["msg"] == "max_age_hours must be more than 0, not 0."


def test_the_restore_still_fails_as_before_when_nothing_verifies(folder):
    # postgres_restore's own function, now built on the one this module shares.
    with pytest.raises(PostgresError) as raised:
        newest_verifying(str(folder), "nothing_here", "pg_restore", dict(os.environ))

    assert str(raised.value) == f"No verified backup of nothing_here in {folder} can be restored."
