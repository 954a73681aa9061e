"""playbooks/backup.yml and playbooks/rollback.yml with rollback_type database and full, against a real cluster."""
import json
import os
import threading

import psycopg2
import pytest

from tests.integration.sandbox import LIVE, PREVIOUS, serving, slack_texts, writes
from tests.postgres_cluster import PASSWORD

ORDERS = "SELECT count(*), sum(total) FROM orders"


@pytest.fixture
def shop(postgres, tmp_path):
    """A database of 300 orders and the variables that point the plays at it and at a backup folder."""
    postgres.psql("DROP DATABASE IF EXISTS shop WITH (FORCE)")
    postgres.psql("CREATE DATABASE shop")
    postgres.psql("CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL);"
                  "INSERT INTO orders (total) SELECT n FROM generate_series(1, 300) AS n", database="shop")
    # As in production, the secret comes from the environment, never from the command line.
    postgres.dsn_env = {"DATABASE_URL": f"postgresql://runbook:{PASSWORD}@{postgres.host}:{postgres.port}/shop"}
    postgres.settings = {"db_backup_dir": str(tmp_path / "backup")}
    postgres.backups = tmp_path / "backup"
    yield postgres
    postgres.psql("DROP DATABASE IF EXISTS shop WITH (FORCE)")


@pytest.fixture
def backed_up(shop, rollback):
    """A backup taken by playbooks/backup.yml, then a bad change the rollback must undo."""
    run = rollback(playbook="playbooks/backup.yml", env=shop.dsn_env, **shop.settings)
    assert run.rc == 0, run.output
    shop.psql("DELETE FROM orders WHERE id > 100; INSERT INTO orders (total) VALUES (-1)", database="shop")
    return next(shop.backups.glob("shop_*Z.dump"))


def database_rollback(rollback, shop, *args, env=None, **variables):
    return rollback(*args, env=shop.dsn_env if env is None else env,
                    **{"rollback_type": "database", **shop.settings, **variables})


def test_a_database_rollback_restores_the_latest_backup(fake, shop, backed_up, rollback):
    run = database_rollback(rollback, shop)

    assert run.rc == 0, run.output
    assert shop.psql(ORDERS, database="shop") == "300|45150"
    assert fake.vercel.requests() == [], "a database rollback does not touch Vercel"
    record = run.record
    assert record["result"] == "succeeded" and record["backup"] == str(backed_up)
    assert record["database"]["restored"] is True and record["database"]["mode"] == "swap"
    safety = record["database"]["safety_backup"]
    assert safety.endswith(".pre-restore.dump") and (shop.backups / (safety.rsplit("/", 1)[1] + ".sha256")).exists()

    started, finished = slack_texts(fake, "#maintenance")
    assert "Database maintenance started" in started and str(backed_up) in started
    assert "Database maintenance finished" in finished and safety in finished
    incident = slack_texts(fake, "#incidents")
    assert "Rollback started" in incident[0] and "Rollback succeeded" in incident[1] and safety in incident[1]
    assert [notice["kind"] + "/" + notice["status"] for notice in record["notices"]] == [
        "rollback/started", "maintenance/restore_started", "maintenance/restore_succeeded", "rollback/succeeded"]


def test_a_full_rollback_moves_the_application_then_restores_the_database(fake, shop, backed_up, rollback):
    run = database_rollback(rollback, shop, rollback_type="full")

    assert run.rc == 0, run.output
    assert set(serving(fake).values()) == {PREVIOUS}
    assert shop.psql(ORDERS, database="shop") == "300|45150"
    record = run.record
    assert record["result"] == "succeeded" and record["after_deployment"] == PREVIOUS
    assert record["database"]["restored"] is True
    assert "now serve " + PREVIOUS in run.output and "restored from " + str(backed_up) in run.output


def test_a_full_rollback_whose_database_part_fails_says_it_is_partial(fake, shop, backed_up, rollback):
    run = database_rollback(rollback, shop, rollback_type="full", db_restore_expected_rows={"orders": 1})

    assert run.rc != 0
    assert ("Rollback partial: The application was rolled back to " + PREVIOUS
            + ", but the database was NOT restored.") in run.output
    assert "orders has 300 rows after the restore, not the 1 expected" in run.output
    assert set(serving(fake).values()) == {PREVIOUS}, "the application part stays rolled back"
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"
    record = run.record
    assert record["result"] == "partial" and record["failed_step"] == "database" and record["reverted"] is None
    failed = slack_texts(fake, "#incidents")[-1]
    assert "Rollback FAILED" in failed and "Partly done: the application now serves" in failed
    assert "Database restore FAILED" in slack_texts(fake, "#maintenance")[-1]


def test_a_corrupted_backup_stops_a_full_rollback_before_anything_moves(fake, shop, backed_up, rollback):
    data = bytearray(backed_up.read_bytes())
    data[-100] ^= 0xFF
    backed_up.write_bytes(bytes(data))

    run = database_rollback(rollback, shop, rollback_type="full")

    assert run.rc != 0 and "Rollback refused:" in run.output
    assert "No verified backup of shop" in run.output and "does not match its SHA-256 manifest" in run.output
    assert writes(fake) == [] and set(serving(fake).values()) == {LIVE}
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"
    assert not list(shop.backups.glob("*.pre-restore.dump")) and slack_texts(fake) == []
    assert run.record["result"] == "refused"


@pytest.mark.parametrize("how", ["rollback_confirm=false", "--check"])
def test_without_confirmation_it_verifies_and_shows_the_plan(fake, shop, backed_up, rollback, how):
    args, variables = (["--check"], {}) if how == "--check" else ([], {"rollback_confirm": False})

    run = database_rollback(rollback, shop, *args, rollback_type="full", **variables)

    assert run.rc == 0, run.output
    assert f"Database: restore runbook@{shop.host}:{shop.port}/shop from {backed_up} (custom, verified by manifest)." \
        in run.output
    assert "A safety backup of the replaced database is taken after the swap: it holds every write up to it." \
        in run.output
    assert "Order: the application first, then the database, then the health check." in run.output
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"
    assert writes(fake) == [] and slack_texts(fake) == [] and not list(shop.backups.glob("*.pre-restore.dump"))
    # Check mode writes no audit record either.
    assert [record["result"] for record in run.audit] == ([] if how == "--check" else ["planned"])


@pytest.mark.parametrize("given_as", ["DATABASE_URL", "vault-style vars file"])
def test_no_password_is_shown_even_at_the_highest_verbosity(fake, shop, backed_up, rollback, tmp_path, given_as):
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"db_host": shop.host, "db_port": shop.port, "db_user": "runbook",
                                   "db_password": PASSWORD, "db_name": "shop"}))
    args = ["-vvvv"] if given_as == "DATABASE_URL" else ["-vvvv", "-e", f"@{secrets}"]

    run = database_rollback(rollback, shop, *args, env=None if given_as == "DATABASE_URL" else {"DATABASE_URL": None})

    assert run.rc == 0, run.output
    assert "plugins/modules/postgres_restore.py" in run.output and "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.output
    assert PASSWORD not in run.output
    assert PASSWORD not in str(run.audit) and PASSWORD not in str(fake.slack.state())


def test_a_wrong_password_fails_the_backup_and_prunes_nothing(fake, shop, rollback):
    first = rollback(playbook="playbooks/backup.yml", env=shop.dsn_env, **shop.settings)
    assert first.rc == 0, first.output
    kept = sorted(path.name for path in shop.backups.iterdir())

    run = rollback(playbook="playbooks/backup.yml", db_backup_keep_count=1, env={
        "DATABASE_URL": shop.dsn_env["DATABASE_URL"].replace(PASSWORD, "Wrong-pw-1618")}, **shop.settings)

    assert run.rc != 0 and "password authentication failed" in run.output
    assert "Wrong-pw-1618" not in run.output and PASSWORD not in run.output
    assert sorted(path.name for path in shop.backups.iterdir()) == kept


def test_a_client_that_keeps_reconnecting_does_not_stop_the_rollback(fake, shop, backed_up, rollback):
    stop = threading.Event()

    def application():
        while not stop.is_set():
            try:
                held = psycopg2.connect(host=shop.host, port=shop.port, user="runbook", password=PASSWORD,
                                        dbname="shop")
                stop.wait(1)
                held.close()
            except psycopg2.Error:
                stop.wait(1)

    client = threading.Thread(target=application)
    client.start()
    try:
        run = database_rollback(rollback, shop)
    finally:
        stop.set()
        client.join()

    assert run.rc == 0, run.output
    assert shop.psql(ORDERS, database="shop") == "300|45150"
    assert shop.psql("SELECT datallowconn FROM pg_database WHERE datname = 'shop'") == "t"


@pytest.mark.parametrize("mode", ["swap", "in_place"])
def test_a_restore_that_fails_midway_leaves_the_database_as_it_was(fake, shop, rollback, mode):
    shop.psql("DO $$ BEGIN CREATE ROLE ghost; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    shop.psql("CREATE TABLE haunted (id int); ALTER TABLE haunted OWNER TO ghost", database="shop")
    assert rollback(playbook="playbooks/backup.yml", env=shop.dsn_env, **shop.settings).rc == 0
    shop.psql("DROP TABLE haunted", database="shop")
    shop.psql("DROP ROLE ghost")

    run = database_rollback(rollback, shop, db_restore_mode=mode)

    assert run.rc != 0 and 'role "ghost" does not exist' in run.output
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "300"
    assert shop.psql("SELECT string_agg(datname || ':' || datallowconn, ',') FROM pg_database "
                     "WHERE datname LIKE 'shop%'") == "shop:true"
    record = run.record
    assert record["result"] == "failed" and record["database"]["restored"] is False
    if mode == "in_place":
        # In place, the live database is backed up before the restore touches it.
        assert f"The live database was left as it was. Safety backup: {record['database']['safety_backup']}." \
            in run.output
    else:
        # Swapping, it is not touched before the swap, so there was nothing to save yet.
        assert "The live database was left as it was." in run.output and record["database"]["safety_backup"] is None


def test_a_plain_sql_backup_with_a_failing_statement_changes_nothing(fake, shop, rollback):
    shop.backups.mkdir()
    plain = shop.backups / "shop_legacy.sql"
    plain.write_text("CREATE TABLE extra (id int);\nINSERT INTO no_such_table VALUES (1);\n"
                     "-- PostgreSQL database dump complete\n")

    run = database_rollback(rollback, shop, rollback_backup=plain.name)

    assert run.rc != 0 and 'relation "no_such_table" does not exist' in run.output
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "300"
    assert shop.psql("SELECT to_regclass('extra') IS NULL", database="shop") == "t"


def test_slack_down_does_not_stop_a_database_rollback(fake, shop, backed_up, rollback):
    fake.slack.add_faults([{"action": "status", "status": 500, "body": "rollup_error", "times": 100}])

    run = database_rollback(rollback, shop)

    assert run.rc == 0, run.output
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "300"
    assert "[WARNING]: The Slack message was not sent" in run.output
    assert all(not any(notice["sent"].values()) for notice in run.record["notices"])


def test_the_db_restore_role_on_its_own_shows_its_plan_then_restores(fake, shop, backed_up, rollback):
    play = "tests/integration/playbooks/db_restore.yml"
    settings = {**shop.settings, "db_restore_lock_dir": shop.settings["db_backup_dir"] + "/../locks"}

    unreasoned = rollback(playbook=play, env=shop.dsn_env, **settings)
    planned = rollback(playbook=play, env=shop.dsn_env, db_restore_reason="bad import", **settings)
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"
    restored = rollback(playbook=play, env=shop.dsn_env, db_restore_reason="bad import", db_restore_confirm="true",
                        **settings)

    assert unreasoned.rc != 0 and "db_restore_reason" in unreasoned.output
    assert planned.rc == 0 and "Run again with -e db_restore_confirm=true to restore." in planned.output
    assert restored.rc == 0, restored.output
    assert f"Restored runbook@{shop.host}:{shop.port}/shop from {backed_up}" in restored.output
    assert shop.psql(ORDERS, database="shop") == "300|45150"
    assert len(slack_texts(fake, "#maintenance")) == 2


def test_an_unhealthy_application_after_a_restore_is_reported_with_the_safety_backup(fake, shop, backed_up, rollback):
    fake.health.set_mode("fail")

    run = database_rollback(rollback, shop)

    assert run.rc != 0
    record = run.record
    safety = record["database"]["safety_backup"]
    assert record["result"] == "unhealthy" and record["database"]["restored"] is True
    assert (f"Rollback unhealthy: The database was restored from {backed_up} (safety backup of the data it replaced: "
            f"{safety}), but the application is not healthy; nothing was put back. To undo the database part, roll "
            f"back again with -e rollback_type=database -e rollback_backup={os.path.basename(safety)}.") in run.output
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "300"
    assert "Rollback done, but the application is UNHEALTHY" in slack_texts(fake, "#incidents")[-1]


@pytest.mark.parametrize("backup", ["../../etc/passwd", "/etc/passwd", ".."])
def test_a_backup_outside_the_backup_folder_is_refused(fake, shop, rollback, backup):
    run = database_rollback(rollback, shop, rollback_backup=backup)

    assert run.rc != 0
    assert f'rollback_backup must be latest or the file name of a backup in the backup folder, not "{backup}".' \
        in run.output


def test_a_reason_of_invisible_characters_is_no_reason(fake, shop, rollback):
    run = database_rollback(rollback, shop, rollback_reason="\u00a0\u200b ")

    assert run.rc != 0 and "rollback_reason is empty" in run.output


def test_the_kept_replaced_database_is_named_everywhere(fake, shop, backed_up, rollback):
    run = database_rollback(rollback, shop, db_restore_keep_replaced=True)

    assert run.rc == 0, run.output
    kept = run.record["database"]["replaced_database"]
    assert kept.startswith("shop_replaced_") and shop.psql("SELECT count(*) FROM orders", database=kept) == "101"
    assert f"the replaced database kept as {kept}" in run.output
    assert f"The replaced database is kept as {kept}" in slack_texts(fake, "#incidents")[-1]
    shop.psql(f'DROP DATABASE "{kept}"')


def test_a_plan_records_the_backup_it_chose(fake, shop, backed_up, rollback):
    run = database_rollback(rollback, shop, rollback_confirm=False)

    assert run.rc == 0, run.output
    record = run.record
    assert record["result"] == "planned" and record["backup"] == str(backed_up)
    assert record["database"]["server"] == f"runbook@{shop.host}:{shop.port}/shop"
    assert "changed=0" in run.output


def test_running_a_database_rollback_again_does_not_discard_the_writes_since(fake, shop, backed_up, rollback):
    first = database_rollback(rollback, shop)
    assert first.rc == 0, first.output
    shop.psql("INSERT INTO orders (total) VALUES (7)", database="shop")

    again = database_rollback(rollback, shop)
    kept = shop.psql("SELECT count(*) FROM orders", database="shop")
    named = database_rollback(rollback, shop, rollback_backup=backed_up.name)

    assert kept == "301", "the second run kept the row written since the first"

    assert again.rc == 0, again.output
    assert f"Run {first.record['run_id']} already restored this backup at " in again.output
    assert f"The database was already restored from {backed_up} by run {first.record['run_id']}" in again.output
    assert again.record["result"] == "already_live" and again.record["database"]["restored"] is False
    assert named.rc == 0 and named.record["database"]["restored"] is True
    assert shop.psql(ORDERS, database="shop") == "300|45150"
