"""diagnostics_bundle: ActionModule.run() in-process, then the archive read back with tarfile."""
import errno
import json
import os
import stat
import tarfile

import pytest

from ansible_collections.runbook.ops.plugins.action import diagnostics_bundle
from ansible_collections.runbook.ops.plugins.plugin_utils._redact import MASK, SECRET_VARIABLES
from tests.unit.action.conftest import run

VERCEL_TOKEN = "vercel-token-for-tests-0001"
DATABASE_URL = "postgresql://shop:db-pass-0001@db.internal:5432/shop"
EXTRA_SECRET = "inventory-secret-0001"


@pytest.fixture(autouse=True)
def no_secrets_in_env(monkeypatch):
    """Start each test from an environment that holds none of the runbook's secrets."""
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def read_bundle(path):
    """Each member's name mapped to (text, mode)."""
    with tarfile.open(path, "r:gz") as archive:
        return {member.name: (archive.extractfile(member).read().decode("utf-8"), stat.S_IMODE(member.mode))
                for member in archive.getmembers()}


def left_in(folder):
    return sorted(entry.name for entry in folder.iterdir())


def test_bundle_holds_each_file_under_one_folder_named_after_it(tmp_path):
    path = tmp_path / "incidents" / "INC-20261204-213000-diagnostics.tar.gz"
    deployments = {"current": {"uid": "dpl_1", "url": "shop-1.vercel.app"}, "deployments": [{"uid": "dpl_0"}]}
    files = {"summary.json": {"name": "INC-20261204-213000", "hosts": ["web1"]},
             "vercel/deployments.json": deployments,
             "ops/web1/journal-errors.txt": "2026-12-04T21:29:59+0900 web1 nginx[42]: upstream timed out\n",
             "problems.json": ["web2: journal errors: the host could not be reached"]}

    result = run(diagnostics_bundle, {"path": str(path), "files": files})

    assert result["changed"] is True and not result.get("failed") and result["path"] == str(path)
    expected = {"summary.json": json.dumps(files["summary.json"], indent=2, sort_keys=True) + "\n",
                "vercel/deployments.json": json.dumps(deployments, indent=2, sort_keys=True) + "\n",
                "ops/web1/journal-errors.txt": files["ops/web1/journal-errors.txt"],
                "problems.json": json.dumps(files["problems.json"], indent=2) + "\n"}
    top = "INC-20261204-213000-diagnostics"
    assert read_bundle(path) == {f"{top}/{name}": (text, 0o600) for name, text in expected.items()}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700  # a folder it made is its owner's only
    assert result["bytes"] == path.stat().st_size
    assert result["contents"] == [{"name": name, "bytes": len(expected[name].encode("utf-8"))}
                                  for name in sorted(expected)]
    assert result["redacted"] == [] and left_in(path.parent) == [path.name]


def test_bundle_keeps_text_other_than_ascii(tmp_path):
    path = tmp_path / "b.tar.gz"
    run(diagnostics_bundle, {"path": str(path), "files": {"note.txt": "障害発生: 決済 API が 503\n",
                                                          "data.json": {"note": "日本語"}}})
    bundle = read_bundle(path)
    assert bundle["b/note.txt"][0] == "障害発生: 決済 API が 503\n"
    assert json.loads(bundle["b/data.json"][0]) == {"note": "日本語"}


def test_bundle_masks_secrets_from_the_env_and_from_redact(tmp_path, monkeypatch):
    monkeypatch.setenv("VERCEL_TOKEN", VERCEL_TOKEN)
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    path = tmp_path / "b.tar.gz"
    files = {"env.txt": f"VERCEL_TOKEN={VERCEL_TOKEN}\nDATABASE_URL={DATABASE_URL}\n",
             "database/stats.json": {"error": "password authentication failed: db-pass-0001 was refused"},
             "inventory.json": {"hosts": {"db1": {"note": f"set to {EXTRA_SECRET}"}}},
             "clean.txt": "nothing to hide here\n"}

    result = run(diagnostics_bundle, {"path": str(path), "files": files, "redact": [EXTRA_SECRET]})

    bundle = read_bundle(path)
    written = "".join(text for text, _mode in bundle.values())
    for secret in (VERCEL_TOKEN, DATABASE_URL, "db-pass-0001", EXTRA_SECRET):
        assert secret not in written
    assert bundle["b/env.txt"][0] == f"VERCEL_TOKEN={MASK}\nDATABASE_URL={MASK}\n"
    assert json.loads(bundle["b/database/stats.json"][0]) == {
        "error": f"password authentication failed: {MASK} was refused"}
    assert json.loads(bundle["b/inventory.json"][0]) == {"hosts": {"db1": {"note": f"set to {MASK}"}}}
    assert bundle["b/clean.txt"][0] == "nothing to hide here\n"
    assert result["redacted"] == ["database/stats.json", "env.txt", "inventory.json"]
    for secret in (VERCEL_TOKEN, DATABASE_URL, "db-pass-0001", EXTRA_SECRET):
        assert secret not in result["_text"]


def test_bundle_masks_text_shaped_like_credentials(tmp_path):
    path = tmp_path / "b.tar.gz"
    files = {"app-log.txt": "connecting to postgresql://u:pw@h/db\n",
             "headers.txt": "Authorization: Bearer abcdefghijkl\n",
             "journal.txt": "web1 app[7]: login with password=hunter22 refused\n",
             "notify.json": {"webhook": "https://hooks.slack.com/services/T0/B0/xyz"}}

    result = run(diagnostics_bundle, {"path": str(path), "files": files})

    bundle = read_bundle(path)
    assert bundle["b/app-log.txt"][0] == f"connecting to postgresql://u:{MASK}@h/db\n"
    assert bundle["b/headers.txt"][0] == f"Authorization: Bearer {MASK}\n"
    assert bundle["b/journal.txt"][0] == f"web1 app[7]: login with password={MASK} refused\n"
    assert json.loads(bundle["b/notify.json"][0]) == {"webhook": f"https://hooks.slack.com/services/{MASK}"}
    written = "".join(text for text, _mode in bundle.values())
    assert "abcdefghijkl" not in written and "hunter22" not in written and "T0/B0/xyz" not in written
    assert result["redacted"] == sorted(files)


def test_check_mode_lists_what_it_would_write_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("VERCEL_TOKEN", VERCEL_TOKEN)
    path = tmp_path / "new-folder" / "b.tar.gz"
    files = {"a.txt": f"token {VERCEL_TOKEN}\n", "b.json": {"k": "v"}}

    result = run(diagnostics_bundle, {"path": str(path), "files": files}, check=True)

    assert result["changed"] is True and not result.get("failed") and result["bytes"] is None
    assert result["contents"] == [{"name": "a.txt", "bytes": len(f"token {MASK}\n")},
                                  {"name": "b.json", "bytes": len(json.dumps({"k": "v"}, indent=2) + "\n")}]
    assert result["redacted"] == ["a.txt"]
    assert left_in(tmp_path) == []


@pytest.mark.parametrize("path_name, files, complaint", [
    ("b.tgz", {"a.txt": "x"}, "path must end in .tar.gz"),
    ("b.tar", {"a.txt": "x"}, "path must end in .tar.gz"),
    ("b.tar.gz", {"../escape.txt": "x"}, "'../escape.txt' is not a relative file name"),
    ("b.tar.gz", {"ops/../../escape.txt": "x"}, "is not a relative file name"),
    ("b.tar.gz", {"/etc/cron.d/evil": "x"}, "'/etc/cron.d/evil' is not a relative file name"),
    ("b.tar.gz", {"": "x"}, "'' is not a relative file name"),
    ("b.tar.gz", {"ops//web1.txt": "x"}, "is not a relative file name"),
    ("b.tar.gz", {"ops/": "x"}, "is not a relative file name"),
    ("b.tar.gz", {"./a.txt": "x"}, "is not a relative file name"),
])
def test_bad_paths_and_names_are_refused_and_nothing_is_written(tmp_path, path_name, files, complaint):
    folder = tmp_path / "out"
    result = run(diagnostics_bundle, {"path": str(folder / path_name), "files": {"fine.txt": "x", **files}})
    assert result["failed"] is True and complaint in result["msg"]
    assert result["msg"].startswith("The diagnostics bundle cannot be written: ")
    assert not folder.exists()


def test_an_existing_bundle_is_never_overwritten(tmp_path):
    path = tmp_path / "b.tar.gz"
    path.write_bytes(b"the earlier bundle")
    result = run(diagnostics_bundle, {"path": str(path), "files": {"a.txt": "new"}})
    assert result["failed"] is True and f"{path} exists already" in result["msg"]
    assert path.read_bytes() == b"the earlier bundle" and left_in(tmp_path) == ["b.tar.gz"]


def test_a_dangling_link_at_the_path_counts_as_existing(tmp_path):
    path = tmp_path / "b.tar.gz"
    path.symlink_to(tmp_path / "elsewhere.tar.gz")
    result = run(diagnostics_bundle, {"path": str(path), "files": {"a.txt": "x"}})
    assert result["failed"] is True and f"{path} exists already" in result["msg"]
    assert os.readlink(path) == str(tmp_path / "elsewhere.tar.gz") and left_in(tmp_path) == ["b.tar.gz"]


def test_a_folder_that_cannot_be_made_fails_cleanly(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run(diagnostics_bundle, {"path": str(blocker / "b.tar.gz"), "files": {"a.txt": "x"}})
    assert result["failed"] is True and result["msg"].startswith("The diagnostics bundle cannot be written: ")
    assert left_in(tmp_path) == ["not-a-folder"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_an_unwritable_folder_fails_and_leaves_nothing(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    try:
        result = run(diagnostics_bundle, {"path": str(folder / "b.tar.gz"), "files": {"a.txt": "x"}})
    finally:
        folder.chmod(0o700)
    assert result["failed"] is True and "Permission denied" in result["msg"]
    assert left_in(folder) == []


def test_a_failure_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tarfile.TarFile, "addfile", disk_full)
    path = tmp_path / "b.tar.gz"
    result = run(diagnostics_bundle, {"path": str(path), "files": {"a.txt": "x", "b.txt": "y"}})
    assert result["failed"] is True
    assert result["msg"] == f"The diagnostics bundle cannot be written: No space left on device ({path})."
    assert left_in(tmp_path) == []


def test_a_bundle_that_appears_meanwhile_is_kept_and_no_partial_file_is_left(tmp_path, monkeypatch):
    path = tmp_path / "b.tar.gz"
    real_link = os.link

    def another_run_wins(source, target):
        path.write_bytes(b"the other run's bundle")
        real_link(source, target)

    monkeypatch.setattr(diagnostics_bundle.os, "link", another_run_wins)
    result = run(diagnostics_bundle, {"path": str(path), "files": {"a.txt": "x"}})
    assert result["failed"] is True and "File exists" in result["msg"]
    assert path.read_bytes() == b"the other run's bundle" and left_in(tmp_path) == ["b.tar.gz"]


@pytest.mark.parametrize("check", [False, True])
def test_the_result_never_holds_a_redact_value(tmp_path, check):
    # The secret even stands in the path and a file name, which the result does carry.
    path = tmp_path / f"{EXTRA_SECRET}.tar.gz"
    files = {f"{EXTRA_SECRET}.txt": f"value {EXTRA_SECRET}", "x.json": {"k": EXTRA_SECRET}}
    result = run(diagnostics_bundle, {"path": str(path), "files": files, "redact": [EXTRA_SECRET]}, check=check)
    assert not result.get("failed") and EXTRA_SECRET not in result["_text"]
    assert result["redacted"] == sorted(name.replace(EXTRA_SECRET, MASK) for name in files)


def test_a_refusal_never_holds_a_redact_value(tmp_path):
    path = tmp_path / f"{EXTRA_SECRET}.tar.gz"
    path.write_bytes(b"")
    result = run(diagnostics_bundle, {"path": str(path), "files": {"a.txt": "x"}, "redact": [EXTRA_SECRET]})
    assert result["failed"] is True and "exists already" in result["msg"]
    assert EXTRA_SECRET not in result["_text"]
