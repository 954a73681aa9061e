"""What a plain SQL file looks like once it is fed to psql behind the restore's own \\restrict."""
import gzip

import pytest

from ansible_collections.runbook.ops.plugins.module_utils._restore import psql_can_restrict, restricted

DUMP = (b"-- PostgreSQL database dump\n"
        b"\\restrict pgdumpkey\n"
        b"CREATE TABLE t (a text);\n"
        b"COPY public.t (a) FROM stdin;\n"
        b"\\\\restrict not-a-command\n"
        b"\\restrict looks-like-one-but-is-data\n"
        b"\\N\n"
        b"\\.\n"
        b"\\! echo a shell command\n"
        b"-- PostgreSQL database dump complete\n"
        b"\\unrestrict pgdumpkey\n")


@pytest.mark.parametrize("packed", [False, True])
def test_pg_dumps_own_restrict_lines_go_and_everything_else_stays(tmp_path, packed):
    path = tmp_path / ("dump.sql.gz" if packed else "dump.sql")
    path.write_bytes(gzip.compress(DUMP) if packed else DUMP)

    first, *rest = b"".join(restricted(str(path))).split(b"\n", 1)

    assert first.startswith(b"\\restrict ") and first != b"\\restrict pgdumpkey"
    assert rest[0] == DUMP.replace(b"\\restrict pgdumpkey\n", b"", 1).replace(b"\\unrestrict pgdumpkey\n", b"")


def test_a_file_without_notable_lines_passes_in_blocks(tmp_path):
    path = tmp_path / "big.sql"
    path.write_bytes(b"INSERT INTO t VALUES (1);\n" * 200_000)

    blocks = list(restricted(str(path)))

    assert len(blocks) < 10 and b"".join(blocks[1:]) == path.read_bytes()


@pytest.mark.parametrize("version, knows", [
    (150013, False), (150014, True), (170006, True), (160009, False), (180000, True), (120022, False)])
def test_which_psql_knows_restrict(version, knows):
    assert psql_can_restrict(version) is knows
