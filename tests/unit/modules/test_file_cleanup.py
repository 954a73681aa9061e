"""file_cleanup's real main() on real files: what goes, what stays, and that no link ever leads it elsewhere."""
import os
import time
import uuid
from pathlib import Path

import pytest

from ansible_collections.runbook.ops.plugins.modules import file_cleanup

DAY = 86400


def make(path, age_days, size=10):
    """A file of ``size`` bytes last modified ``age_days`` ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


def names(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture
def logs(tmp_path):
    """A log folder: old and young logs, an excluded one, another kind of file, and a folder below."""
    folder = tmp_path / "logs"
    make(folder / "app.log", 40, size=100)
    make(folder / "app.log.1", 35, size=50)
    make(folder / "new.log", 1)
    make(folder / "audit.log", 40)
    make(folder / "notes.txt", 40)
    make(folder / "archive" / "old.log", 60, size=7)
    return folder


def cleanup_args(*paths, **options):
    return {"paths": [str(path) for path in paths], "patterns": ["*.log", "*.log.[0-9]*"], "excludes": ["audit*"],
            "older_than_days": 30, **options}


def test_old_matching_files_go_young_excluded_and_other_files_stay(run, logs):
    result = run(file_cleanup, cleanup_args(logs))

    assert result["changed"] is True and "failed" not in result
    assert result["removed"] == [str(logs / "app.log"), str(logs / "app.log.1"), str(logs / "archive" / "old.log")]
    assert result["files_removed"] == 3 and result["bytes_freed"] == 100 + 50 + 7
    assert result["kept_young"] == 1 and result["removed_truncated"] is False
    assert result["missing_paths"] == [] and result["errors"] == []
    assert names(logs) == ["archive", "audit.log", "new.log", "notes.txt"]


def test_without_recurse_the_folders_below_stay(run, logs):
    result = run(file_cleanup, cleanup_args(logs, recurse=False))
    assert result["files_removed"] == 2
    assert (logs / "archive" / "old.log").exists()


def test_check_mode_removes_nothing_and_a_second_run_changes_nothing(run, logs):
    before = names(logs)
    checked = run(file_cleanup, cleanup_args(logs), check=True)
    assert names(logs) == before
    assert checked["changed"] is True and checked["files_removed"] == 3 and checked["bytes_freed"] == 157

    done = run(file_cleanup, cleanup_args(logs))
    assert done["removed"] == checked["removed"] and done["bytes_freed"] == checked["bytes_freed"]

    again = run(file_cleanup, cleanup_args(logs))
    assert again["changed"] is False and again["files_removed"] == 0 and again["removed"] == []
    assert again["bytes_freed"] == 0 and again["kept_young"] == 1


def test_links_are_neither_followed_nor_removed(run, tmp_path):
    outside = tmp_path / "outside"
    secret = make(outside / "secret.log", 90)
    make(outside / "deeper" / "other.log", 90)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "link.log").symlink_to(secret)
    (logs / "dangling.log").symlink_to(tmp_path / "nowhere.log")
    (logs / "linked-folder").symlink_to(outside)
    # Old links: their own age would qualify them, were links candidates.
    for link in logs.iterdir():
        os.utime(link, (time.time() - 90 * DAY,) * 2, follow_symlinks=False)

    result = run(file_cleanup, cleanup_args(logs, older_than_days=0))

    assert result["changed"] is False and result["files_removed"] == 0 and result["removed"] == []
    assert result["errors"] == []
    assert secret.exists() and (outside / "deeper" / "other.log").exists()
    links = sorted(link.name for link in logs.iterdir() if link.is_symlink())
    assert links == ["dangling.log", "link.log", "linked-folder"]


def test_a_folder_of_paths_that_is_a_link_is_refused(run, tmp_path):
    secret = make(tmp_path / "outside" / "secret.log", 90)
    (tmp_path / "logs").symlink_to(tmp_path / "outside")

    result = run(file_cleanup, cleanup_args(tmp_path / "logs"), own_process=True)

    assert "failed" not in result and result["changed"] is False
    assert [error["path"] for error in result["errors"]] == [str(tmp_path / "logs")]
    assert "symbolic link" in result["errors"][0]["error"]
    assert "is a symbolic link, which is never followed" in str(result["warnings"])
    assert secret.exists()


def swap_for_a_link(folder, target):
    """Move ``folder`` aside and put a link to ``target`` in its place, as an attacker racing the clean-up would."""
    folder.rename(folder.with_name(folder.name + ".moved"))
    folder.symlink_to(target)


def test_a_folder_swapped_for_a_link_before_it_is_entered_is_not_followed(run, tmp_path, monkeypatch):
    outside_file = make(tmp_path / "outside" / "precious.log", 90)
    logs = tmp_path / "logs"
    make(logs / "sub" / "old.log", 90)
    real_open = os.open

    def open_after_the_swap(path, flags, mode=0o777, *, dir_fd=None):
        # Between the lstat that saw a folder and the open of it.
        if path == "sub" and dir_fd is not None and (logs / "sub").is_dir() and not (logs / "sub").is_symlink():
            swap_for_a_link(logs / "sub", tmp_path / "outside")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", open_after_the_swap)
    result = run(file_cleanup, cleanup_args(logs))

    assert (logs / "sub").is_symlink()
    assert outside_file.exists()
    assert result["files_removed"] == 0
    assert result["errors"] == [{"path": str(logs / "sub"),
                                 "error": "became a symbolic link or a file while cleaning; not followed"}]


def test_a_folder_swapped_for_a_link_once_entered_is_still_the_folder_cleaned(run, tmp_path, monkeypatch):
    outside_file = make(tmp_path / "outside" / "old.log", 90)
    logs = tmp_path / "logs"
    make(logs / "sub" / "old.log", 90)
    real_scandir = os.scandir

    def scandir_after_the_swap(folder):
        # The folder is open; its path now leads to a folder with a file of the same name.
        if isinstance(folder, int) and os.readlink(f"/proc/self/fd/{folder}") == str(logs / "sub"):
            swap_for_a_link(logs / "sub", tmp_path / "outside")
        return real_scandir(folder)

    monkeypatch.setattr(os, "scandir", scandir_after_the_swap)
    result = run(file_cleanup, cleanup_args(logs))

    assert (logs / "sub").is_symlink()
    assert outside_file.exists()
    # What was removed is the file of the folder that was entered, now moved aside.
    assert not (logs / "sub.moved" / "old.log").exists()
    assert result["removed"] == [str(logs / "sub" / "old.log")]


@pytest.mark.parametrize("name", ["*.log", "$(touch x)", "`touch x`.log", "-rf", "a b; rm -rf ~"])
def test_a_name_with_shell_syntax_is_only_a_name(run, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "logs"
    make(folder / name, 40)
    make(folder / "a.log", 40)
    make(folder / "b.txt", 40)

    # The name itself as the pattern, with fnmatch's brackets around its special characters.
    pattern = "".join(f"[{char}]" if char in "*?[" else char for char in name)
    result = run(file_cleanup, {"paths": [str(folder)], "patterns": [pattern], "older_than_days": 30})

    assert result["removed"] == [str(folder / name)]
    assert names(folder) == ["a.log", "b.txt"]
    assert not (tmp_path / "x").exists() and not (folder / "x").exists()


def test_a_star_pattern_matches_a_file_called_star(run, tmp_path):
    folder = tmp_path / "logs"
    make(folder / "*.log", 40)
    make(folder / "a.log", 40)
    make(folder / "a.txt", 40)
    result = run(file_cleanup, {"paths": [str(folder)], "patterns": ["*.log"], "older_than_days": 30})
    assert result["removed"] == [str(folder / "*.log"), str(folder / "a.log")]
    assert names(folder) == ["a.txt"]


def test_a_missing_folder_is_a_warning_and_the_others_are_cleaned(run, tmp_path, logs):
    missing = tmp_path / "no-such-folder"
    result = run(file_cleanup, cleanup_args(missing, logs), own_process=True)
    assert "failed" not in result and result["files_removed"] == 3
    assert result["missing_paths"] == [str(missing)]
    assert f"{missing} does not exist; nothing to clean there." in str(result["warnings"])
    assert len(result["warnings"]) == 1


def test_a_file_that_cannot_be_removed_is_an_error_and_the_others_go(run, logs, monkeypatch):
    real_unlink = os.unlink

    def refuse_app_log(path, *, dir_fd=None):
        if path == "app.log":
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", refuse_app_log)
    result = run(file_cleanup, cleanup_args(logs))

    assert "failed" not in result
    assert result["errors"] == [{"path": str(logs / "app.log"), "error": "Permission denied"}]
    assert result["files_removed"] == 2 and str(logs / "app.log") not in result["removed"]
    assert (logs / "app.log").exists()


def test_a_mount_below_is_not_entered_unless_asked(run):
    # /dev/shm is a filesystem of its own mounted below /dev on Linux.
    assert os.stat("/dev").st_dev != os.stat("/dev/shm").st_dev
    name = f"runbook-cleanup-test-{uuid.uuid4().hex}.tmp"
    planted = make(Path("/dev/shm") / name, 40)
    try:
        args = {"paths": ["/dev"], "patterns": [name], "older_than_days": 30}
        stayed = run(file_cleanup, args)
        assert stayed["files_removed"] == 0 and planted.exists()

        crossed = run(file_cleanup, {**args, "same_filesystem": False})
        assert crossed["removed"] == [str(planted)] and not planted.exists()
    finally:
        planted.unlink(missing_ok=True)


def test_a_link_on_the_way_cannot_lead_into_a_system_folder(run, logs, tmp_path):
    (tmp_path / "rootlink").symlink_to("/")
    result = run(file_cleanup, {**cleanup_args(logs), "paths": [str(tmp_path / "rootlink/etc")]})
    assert result["failed"] is True and "system folder" in result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"paths": ["relative/logs"]}, "paths must be absolute folders; 'relative/logs' is relative."),
    ({"paths": ["/"]}, "paths must not be the root folder ('/')."),
    ({"paths": ["//"]}, "paths must not be the root folder ('//')."),
    ({"paths": ["/tmp/.."]}, "paths must not be the root folder ('/tmp/..')."),
    ({"paths": ["/etc"]}, "paths must not be in a system folder ('/etc'); clean-up is for logs and temporary files."),
    ({"paths": ["/var/log/../../usr/lib"]},
     "paths must not be in a system folder ('/var/log/../../usr/lib'); clean-up is for logs and temporary files."),
    ({"paths": ["/var/lib/dpkg"]},
     "paths must not be in a system folder ('/var/lib/dpkg'); clean-up is for logs and temporary files."),
    ({"paths": ["/home/"]}, "paths must name the folder of the logs or temporary files, not all of /home ('/home/')."),
    ({"older_than_days": -1}, "older_than_days must be 0 or more, not -1."),
    ({"patterns": []}, "patterns must name at least one pattern."),
    ({"patterns": ["logs/*.log"]}, "patterns match file names, not paths: 'logs/*.log' holds a /."),
    ({"excludes": [""]}, "excludes must not hold an empty pattern."),
])
def test_bad_input_is_refused_before_anything_is_removed(run, logs, args, message):
    result = run(file_cleanup, {**cleanup_args(logs), **args})
    assert result["failed"] is True and result["msg"] == message
    assert (logs / "app.log").exists()


def test_patterns_and_the_age_are_required(run, logs):
    result = run(file_cleanup, {"paths": [str(logs)]})
    assert result["failed"] is True
    assert "older_than_days" in result["msg"] and "patterns" in result["msg"]
