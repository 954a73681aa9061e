"""The PostgreSQL helper against a real throwaway cluster."""
import stat

import pytest

from ansible_collections.runbook.ops.plugins.module_utils._postgres import (
    PostgresError,
    check_client,
    client_environment,
    client_version,
    connect,
    connection_settings,
    describe,
)
from tests.postgres_cluster import PASSWORD, SUPERUSER


def test_connects_from_a_dsn(postgres):
    connection = connect(connection_settings(postgres.dsn))
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == (SUPERUSER,)
    assert connection.server_version // 10000 >= 15
    connection.close()


def test_discrete_options_win_over_the_dsn(postgres):
    postgres.psql("CREATE DATABASE shop")
    try:
        settings = connection_settings(postgres.dsn, database="shop", port=postgres.port)
        assert settings["dbname"] == "shop" and settings["password"] == PASSWORD
        connection = connect(settings)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == ("shop",)
        connection.close()
    finally:
        postgres.psql("DROP DATABASE shop")


def test_libpq_variables_fill_in_only_what_the_dsn_and_the_options_leave_out():
    stale = {"PGPASSWORD": "stale", "PGDATABASE": "other", "PGHOST": "elsewhere", "PGSSLMODE": "require"}

    settings = connection_settings("postgresql://app:s3cret@db.internal/shop", environment=stale, host="db2")

    assert settings == {"user": "app", "password": "s3cret", "host": "db2", "dbname": "shop", "sslmode": "require"}


def test_a_wrong_password_fails_with_where_and_why_but_not_the_password(postgres):
    with pytest.raises(PostgresError) as caught:
        connect(connection_settings(postgres.dsn, password="not-the-Password-42"))
    message = str(caught.value)
    assert message.startswith(f"Cannot connect to {SUPERUSER}@127.0.0.1:{postgres.port}/postgres:")
    assert "password authentication failed" in message
    assert "not-the-Password-42" not in message and PASSWORD not in message


def test_an_unreadable_dsn_is_refused_without_echoing_it():
    with pytest.raises(PostgresError) as caught:
        connection_settings("postgresql://app:Secret-Word-9@db/shop?sslmode=require&bogus=1")
    assert "Secret-Word-9" not in str(caught.value) and "postgresql://user:password@host" in str(caught.value)


def test_client_programs_get_the_settings_as_environment():
    settings = connection_settings("postgresql://app:s3cret@db.internal:6543/shop", environment={}, sslmode="require")
    assert client_environment(settings) == {"PGUSER": "app", "PGPASSWORD": "s3cret", "PGHOST": "db.internal",
                                            "PGPORT": "6543", "PGDATABASE": "shop", "PGSSLMODE": "require"}
    assert describe(settings) == "app@db.internal:6543/shop"


def fake_client(tmp_path, printed):
    program = tmp_path / "pg_dump"
    program.write_text(f"#!/bin/sh\necho '{printed}'\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return str(program)


def test_the_installed_pg_dump_is_good_for_the_server(postgres):
    connection = connect(connection_settings(postgres.dsn))
    assert check_client("pg_dump", connection.server_version) == client_version("pg_dump")
    connection.close()


def test_a_pg_dump_older_than_the_server_is_refused_naming_both_versions(tmp_path):
    with pytest.raises(PostgresError) as caught:
        check_client(fake_client(tmp_path, "pg_dump (PostgreSQL) 14.11"), 150018)
    assert "is version 14.11, older than the server's 15.18" in str(caught.value)
    assert "PostgreSQL 15 or newer" in str(caught.value)


@pytest.mark.parametrize("printed, version", [
    ("pg_dump (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+1)", 160004),
    ("pg_restore (PostgreSQL) 17beta1", 170000),
])
def test_client_version_reads_what_distributions_print(tmp_path, printed, version):
    assert client_version(fake_client(tmp_path, printed)) == version


def test_a_missing_client_says_what_to_install():
    with pytest.raises(PostgresError, match="Install the PostgreSQL client programs"):
        client_version("/nonexistent/pg_dump")
