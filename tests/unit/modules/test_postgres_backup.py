"""postgres_backup against a real throwaway cluster: verified archives, manifests, table summaries, retention,
failures."""
import datetime
import json
import os
import stat
import subprocess
import threading

import psycopg2
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._backup import backup_name, dump, prune, safety_backup_name
from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError
from ansible_collections.runbook.ops.plugins.module_utils._tables import summaries
from ansible_collections.runbook.ops.plugins.modules import postgres_backup, postgres_restore
from tests.postgres_cluster import PASSWORD


@pytest.fixture(scope="module")
def shop(postgres):
    """A small database with rows to back up."""
    postgres.psql("CREATE DATABASE shop")
    postgres.psql("CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL);"
                  "INSERT INTO orders (total) SELECT n FROM generate_series(1, 500) AS n", database="shop")
    yield postgres
    postgres.psql("DROP DATABASE shop")


def backup_args(shop, folder, **options):
    return {"host": shop.host, "port": shop.port, "user": "runbook", "password": PASSWORD, "database": "shop",
            "backup_dir": str(folder), **options}


def test_a_verified_backup_with_its_manifest(shop, run, tmp_path):
    result = run(postgres_backup, backup_args(shop, tmp_path / "backup"))

    assert result["changed"] is True and result["toc_entries"] > 0 and result["size_bytes"] > 0
    assert os.path.basename(result["path"]).startswith("shop_") and result["path"].endswith(".dump")
    checked = subprocess.run(["sha256sum", "-c", os.path.basename(result["manifest"])], cwd=tmp_path / "backup",
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listing = subprocess.run(["pg_restore", "--list", result["path"]], capture_output=True, text=True, check=True)
    assert "TABLE DATA public orders" in listing.stdout
    assert stat.S_IMODE(os.stat(tmp_path / "backup").st_mode) == 0o700
    assert PASSWORD not in result["_stdout"]


def test_the_directory_format_in_parallel(shop, run, tmp_path):
    result = run(postgres_backup, backup_args(shop, tmp_path, format="directory", jobs=2))

    assert os.path.isdir(result["path"]) and os.path.isfile(os.path.join(result["path"], "toc.dat"))
    assert subprocess.run(["sha256sum", "-c", os.path.basename(result["manifest"])], cwd=tmp_path,
                          capture_output=True, check=False).returncode == 0


def test_a_wrong_password_leaves_no_backup_and_prunes_nothing(shop, run, tmp_path):
    old = tmp_path / backup_name("shop", datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    old.write_text("an old backup")
    (tmp_path / (old.name + ".sha256")).write_text("x  " + old.name + "\n")

    result = run(postgres_backup, backup_args(shop, tmp_path, password="wrong-Password-1", keep_days=1))

    assert result["failed"] is True and "password authentication failed" in result["msg"]
    assert "wrong-Password-1" not in result["_stdout"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [old.name, old.name + ".sha256"]


def test_retention_never_removes_the_newest_and_removes_by_count(shop, run, tmp_path):
    for year in (2021, 2022, 2023):
        old = tmp_path / backup_name("shop", datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc))
        old.write_text("old")
        (tmp_path / (old.name + ".sha256")).write_text("x  " + old.name + "\n")
    unverified = tmp_path / backup_name("shop", datetime.datetime(2019, 1, 1, tzinfo=datetime.timezone.utc))
    unverified.write_text("no manifest: not a verified backup, left alone")

    result = run(postgres_backup, backup_args(shop, tmp_path, keep_count=2))

    kept = sorted(p.name for p in tmp_path.glob("shop_*.dump"))
    assert kept == [unverified.name, "shop_20230101T000000Z.dump", os.path.basename(result["path"])]
    assert len(result["pruned"]) == 2


def test_check_mode_counts_the_backup_it_would_take_as_the_newest(tmp_path):
    for year in (2021, 2022):
        old = tmp_path / backup_name("shop", datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc))
        old.write_text("old")
        (tmp_path / (old.name + ".sha256")).write_text("x  " + old.name + "\n")

    assert len(prune(str(tmp_path), "shop", keep_count=1, check_mode=True)) == 2
    assert len(prune(str(tmp_path), "shop", keep_count=1)) == 1


def test_safety_backups_go_by_age_only(tmp_path):
    for year in (2020, 2999):
        old = tmp_path / safety_backup_name("shop", datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc))
        old.write_text("safety")
        (tmp_path / (old.name + ".sha256")).write_text("x  " + old.name + "\n")

    assert prune(str(tmp_path), "shop", keep_count=1) == []
    assert prune(str(tmp_path), "shop", keep_days=30) == [str(tmp_path / "shop_20200101T000000Z.pre-restore.dump")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop_29990101T000000Z.pre-restore.dump",
                                                          "shop_29990101T000000Z.pre-restore.dump.sha256"]


def test_a_backup_is_for_its_owner_only_in_a_folder_others_can_read(shop, run, tmp_path):
    tmp_path.chmod(0o755)

    result = run(postgres_backup, backup_args(shop, tmp_path))

    assert stat.S_IMODE(os.stat(result["path"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(result["manifest"]).st_mode) == 0o600


def test_two_backups_in_the_same_second_do_not_meet(shop, tmp_path):
    environment = {**os.environ, "PGHOST": shop.host, "PGPORT": str(shop.port), "PGUSER": "runbook",
                   "PGPASSWORD": PASSWORD, "PGDATABASE": "shop"}
    first = dump("pg_dump", "pg_restore", str(tmp_path), "shop", "custom", 1, environment, name="shop_same.dump")

    with pytest.raises(PostgresError, match="already exists"):
        dump("pg_dump", "pg_restore", str(tmp_path), "shop", "custom", 1, environment, name="shop_same.dump")

    assert os.path.getsize(first["path"]) == first["size_bytes"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop_same.dump", "shop_same.dump.sha256"]


def test_retention_by_age_keeps_the_newest_even_when_old(tmp_path):
    only = tmp_path / backup_name("shop", datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    only.write_text("old but newest")
    (tmp_path / (only.name + ".sha256")).write_text("x  " + only.name + "\n")

    assert prune(str(tmp_path), "shop", keep_days=1) == [] and only.exists()


def test_check_mode_writes_nothing(shop, run, tmp_path):
    result = run(postgres_backup, backup_args(shop, tmp_path / "backup"), check=True)

    assert result["changed"] is True and result["path"].startswith(str(tmp_path / "backup" / "shop_"))
    assert not (tmp_path / "backup").exists()


def test_a_pg_dump_older_than_the_server_is_refused(shop, run, tmp_path):
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 12.22'\n")
    old.chmod(0o755)

    result = run(postgres_backup, backup_args(shop, tmp_path / "backup", pg_dump=str(old)))

    assert result["failed"] is True and "is version 12.22, older than the server's 15." in result["msg"]
    assert not (tmp_path / "backup").exists()


def test_the_password_is_never_in_pg_dumps_arguments(shop, run, tmp_path):
    spy = tmp_path / "pg_dump"
    spy.write_text(f"#!/bin/sh\nif [ \"$1\" = --version ]; then exec pg_dump --version; fi\n"
                   f"echo \"$@\" > {tmp_path}/arguments\nexec pg_dump \"$@\"\n")
    spy.chmod(0o755)

    result = run(postgres_backup, backup_args(shop, tmp_path / "backup", pg_dump=str(spy)))

    assert not result.get("failed"), result["msg"]
    assert PASSWORD not in (tmp_path / "arguments").read_text()


@pytest.mark.parametrize("name", ["shop_20991231T000000Z.dump", "shop_20261399T999999Z.dump"])
def test_a_backup_named_in_the_future_or_at_no_time_is_neither_newest_nor_pruned(shop, run, tmp_path, name):
    odd = tmp_path / name
    odd.write_text("odd")
    (tmp_path / (name + ".sha256")).write_text("x  " + name + "\n")

    result = run(postgres_backup, backup_args(shop, tmp_path, keep_count=1))

    assert os.path.exists(result["path"]) and odd.exists() and result["pruned"] == []


# Table summaries: read in the snapshot pg_dump dumps, written beside the backup, pruned with it.

@pytest.fixture
def ledger(postgres):
    """A database of 1000 entries in two tables, dropped after the test with the copies restored from it."""
    postgres.psql("DROP DATABASE IF EXISTS ledger WITH (FORCE)")
    postgres.psql("CREATE DATABASE ledger")
    postgres.psql("CREATE TABLE entries (id int PRIMARY KEY, amount numeric NOT NULL, booked timestamptz NOT NULL);"
                  "INSERT INTO entries SELECT n, n * 0.5, timestamptz '2026-01-01 00:00+00' + n * interval '1 hour' "
                  "FROM generate_series(1, 1000) AS n;"
                  "CREATE TABLE accounts (name text PRIMARY KEY); INSERT INTO accounts VALUES ('cash'), ('bank')",
                  database="ledger")
    yield postgres
    for name in ("ledger", "ledger_restored"):
        postgres.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def ledger_args(ledger, folder, **options):
    return {**backup_args(ledger, folder, **options), "database": "ledger"}


def summary_of(cluster, database):
    connection = psycopg2.connect(host=cluster.host, port=cluster.port, user="runbook", password=PASSWORD,
                                  dbname=database)
    try:
        return summaries(connection.cursor())
    finally:
        connection.close()


def restored_summary(cluster, archive):
    """The summary of a database restored from the archive."""
    cluster.psql("DROP DATABASE IF EXISTS ledger_restored WITH (FORCE)")
    cluster.psql("CREATE DATABASE ledger_restored")
    subprocess.run(["pg_restore", "--dbname", "ledger_restored", "--exit-on-error", archive], check=True,
                   env={**os.environ, "PGHOST": cluster.host, "PGPORT": str(cluster.port), "PGUSER": "runbook",
                        "PGPASSWORD": PASSWORD})
    return summary_of(cluster, "ledger_restored")


@pytest.mark.parametrize("archive_format", ["custom", "directory"])
def test_the_table_summary_is_of_the_snapshot_pg_dump_dumps_while_another_session_commits(ledger, run, tmp_path,
                                                                                          archive_format):
    # The summary reads its tables by name; a_gate comes first, and a session of the test holds it locked,
    # so that the summary can read no other table before the changes below are committed.
    ledger.psql("CREATE TABLE a_gate (id int)", database="ledger")
    before = summary_of(ledger, "ledger")
    gate = psycopg2.connect(host=ledger.host, port=ledger.port, user="runbook", password=PASSWORD, dbname="ledger",
                            application_name="gate")
    gate.cursor().execute("LOCK TABLE a_gate IN ACCESS EXCLUSIVE MODE")
    # Should the meddler below fail, the summary does not wait for ever.
    fallback = threading.Timer(60, gate.close)
    fallback.start()
    # pg_dump starts once the snapshot is exported: another session commits changes first, then opens the gate.
    meddler = tmp_path / "pg_dump"
    meddler.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then exec pg_dump --version; fi\n"
                       "psql -X -q -v ON_ERROR_STOP=1 -c \"DELETE FROM entries WHERE id <= 10; "
                       "UPDATE entries SET amount = amount + 1 WHERE id = 500; INSERT INTO accounts VALUES ('card')\" "
                       "-c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gate'\" "
                       ">/dev/null || exit 3\nexec pg_dump \"$@\"\n")
    meddler.chmod(0o755)

    try:
        result = run(postgres_backup, ledger_args(ledger, tmp_path / "backup", table_summary=True,
                                                  pg_dump=str(meddler), format=archive_format, jobs=2))
    finally:
        fallback.cancel()
        gate.close()

    assert not result.get("failed"), result.get("msg")
    assert ledger.psql("SELECT count(*) FROM entries", database="ledger") == "990", "the other session committed"
    assert summary_of(ledger, "ledger") != before
    with open(result["table_summary"], encoding="utf-8") as handle:
        assert json.load(handle) == before
    assert restored_summary(ledger, result["path"]) == before


def test_the_summary_stands_beside_the_backup_outside_its_manifest(ledger, run, tmp_path):
    result = run(postgres_backup, ledger_args(ledger, tmp_path, table_summary=True))

    summary = result["table_summary"]
    assert summary == result["path"] + ".tables.json" and stat.S_IMODE(os.stat(summary).st_mode) == 0o600
    assert os.stat(summary).st_mtime_ns <= os.stat(result["manifest"]).st_mtime_ns
    with open(result["manifest"], encoding="utf-8") as handle:
        assert ".tables.json" not in handle.read()
    assert not list(tmp_path.glob("*.partial"))
    # A restore verifies the backup by its manifest alone, with the summary there, edited or gone.
    with open(summary, "w", encoding="utf-8") as handle:
        handle.write("edited")
    assert run(postgres_restore, ledger_args(ledger, tmp_path), check=True)["verified_by"] == "manifest"
    os.unlink(summary)
    assert run(postgres_restore, ledger_args(ledger, tmp_path), check=True)["backup"] == result["path"]


def test_without_table_summary_there_is_none(ledger, run, tmp_path):
    result = run(postgres_backup, ledger_args(ledger, tmp_path))

    assert result["table_summary"] is None and not list(tmp_path.glob("*.tables.json"))


def test_retention_removes_the_summary_with_its_backup(ledger, run, tmp_path):
    old = tmp_path / backup_name("ledger", datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc))
    old.write_text("old")
    (tmp_path / (old.name + ".sha256")).write_text("x  " + old.name + "\n")
    (tmp_path / (old.name + ".tables.json")).write_text("{}")

    result = run(postgres_backup, ledger_args(ledger, tmp_path, keep_count=1, table_summary=True))

    assert result["pruned"] == [str(old)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        os.path.basename(result["path"]) + suffix for suffix in ("", ".sha256", ".tables.json"))


def test_a_failed_dump_leaves_no_summary(ledger, run, tmp_path):
    failing = tmp_path / "pg_dump"
    failing.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then exec pg_dump --version; fi\n"
                       "pg_dump \"$@\"; echo 'pg_dump: error: could not write to output file: No space left' >&2; "
                       "exit 1\n")
    failing.chmod(0o755)

    result = run(postgres_backup, ledger_args(ledger, tmp_path / "backup", table_summary=True, pg_dump=str(failing)))

    assert result["failed"] is True and "No space left" in result["msg"]
    assert list((tmp_path / "backup").iterdir()) == []


def test_check_mode_names_the_summary_it_would_write(ledger, run, tmp_path):
    result = run(postgres_backup, ledger_args(ledger, tmp_path / "backup", table_summary=True), check=True)

    assert result["table_summary"] == result["path"] + ".tables.json"
    assert not (tmp_path / "backup").exists()
