"""host_resources_info's real main() on this machine, checked against /proc and statvfs; its parsers on odd text."""
import os
import pwd
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.runbook.ops.plugins.module_utils._resources import (
    PSEUDO_FILESYSTEMS,
    disks,
    memory,
    parse_meminfo,
    parse_mounts,
    parse_process_stat,
)
from ansible_collections.runbook.ops.plugins.modules import host_resources_info

SECRET = "--password=hunter2-resources-7d1b"
HELD_MEGABYTES = 300


def started(*code_and_args, ready=None):
    """A Python process running ``code``, once it has printed ``ready`` (or used some CPU)."""
    process = subprocess.Popen([sys.executable, "-c", *code_and_args], stdout=subprocess.PIPE, text=True)
    if ready:
        assert process.stdout.readline().strip() == ready
    else:
        while parse_process_stat(Path(f"/proc/{process.pid}/stat").read_text())[1] == 0:
            time.sleep(0.01)
    return process


@pytest.fixture
def burner():
    """A process that keeps one CPU busy, with a secret among its arguments."""
    process = started("while True: pass", SECRET)
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def holder():
    """A process that holds a few hundred megabytes of touched memory, with a secret among its arguments."""
    process = started(f"import sys, time\nheld = b'x' * ({HELD_MEGABYTES} << 20)\nprint('ready', flush=True)\n"
                      "time.sleep(600)", SECRET, ready="ready")
    yield process
    process.kill()
    process.wait()


def test_memory_is_what_proc_meminfo_says(run):
    result = run(host_resources_info, {"top": 0})
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total = int(meminfo["MemTotal"].split()[0]) * 1024
    swap = int(meminfo["SwapTotal"].split()[0]) * 1024
    assert result["memory"]["total_bytes"] == total and result["memory"]["swap_total_bytes"] == swap
    used = result["memory"]["used_bytes"]
    assert used == total - result["memory"]["available_bytes"] and 0 < used < total
    assert result["memory"]["used_percent"] == round(100 * used / total, 1)
    assert result["changed"] is False and "processes" not in result


def test_disks_are_the_real_filesystems_with_their_statvfs_figures(run):
    result = run(host_resources_info, {"top": 0})
    mounts = [disk["mount"] for disk in result["disks"]]
    assert len(mounts) == len(set(mounts)) and mounts == sorted(mounts)
    assert not {disk["fstype"] for disk in result["disks"]} & PSEUDO_FILESYSTEMS

    # The filesystem of this test's own files is one of them, with its size.
    here = os.stat(__file__).st_dev
    mine = [disk for disk in result["disks"] if os.stat(disk["mount"]).st_dev == here]
    assert len(mine) == 1
    usage = os.statvfs(mine[0]["mount"])
    assert mine[0]["size_bytes"] == usage.f_blocks * usage.f_frsize
    assert 0 < mine[0]["percent"] <= 100
    assert mine[0]["used_bytes"] + mine[0]["free_bytes"] <= mine[0]["size_bytes"]
    if usage.f_files:
        assert mine[0]["inodes_total"] == usage.f_files and 0 < mine[0]["inodes_percent"] <= 100


def test_load_cpu_count_and_uptime(run):
    booted_before = float(Path("/proc/uptime").read_text().split()[0])
    result = run(host_resources_info, {"top": 0}, check=True)
    booted_after = float(Path("/proc/uptime").read_text().split()[0])
    assert result["cpu_count"] == os.cpu_count()
    assert set(result["load"]) == {"1m", "5m", "15m"} and all(value >= 0 for value in result["load"].values())
    assert round(booted_before, 1) <= result["uptime_seconds"] <= round(booted_after, 1)
    assert result["changed"] is False


def test_a_process_burning_cpu_is_at_the_top_by_name_without_its_arguments(run, burner):
    result = run(host_resources_info, {"top": 5, "sample_seconds": 0.5})

    by_cpu = result["processes"]["by_cpu"]
    assert burner.pid in [row["pid"] for row in by_cpu]
    row = next(row for row in by_cpu if row["pid"] == burner.pid)
    assert row["name"] == Path(f"/proc/{burner.pid}/comm").read_text().strip()
    assert row["cpu_percent"] > 0 and row["user"] == pwd.getpwuid(os.getuid()).pw_name
    assert [row["cpu_percent"] for row in by_cpu] == sorted((row["cpu_percent"] for row in by_cpu), reverse=True)
    assert 0.5 <= result["processes"]["sampled_seconds"]
    assert 0 < result["processes"]["cpu_busy_percent"] <= 100
    assert SECRET not in result["_stdout"] and "hunter2" not in result["_stdout"]


def test_a_process_holding_memory_is_listed_by_memory(run, holder):
    result = run(host_resources_info, {"top": 50, "sample_seconds": 0.1}, check=True)

    by_memory = result["processes"]["by_memory"]
    row = next(row for row in by_memory if row["pid"] == holder.pid)
    assert row["rss_bytes"] >= HELD_MEGABYTES << 20
    rss_pages = int(Path(f"/proc/{holder.pid}/stat").read_text().rsplit(")", 1)[1].split()[21])
    assert row["rss_bytes"] == rss_pages * os.sysconf("SC_PAGE_SIZE")
    assert row["memory_percent"] == round(100 * row["rss_bytes"] / result["memory"]["total_bytes"], 1)
    assert [row["rss_bytes"] for row in by_memory] == sorted((row["rss_bytes"] for row in by_memory), reverse=True)
    assert len(by_memory) == min(50, result["processes"]["count"])
    assert "hunter2" not in result["_stdout"]


@pytest.mark.parametrize("args, message", [
    ({"top": -1}, "top must be 0 or more, not -1."),
    ({"sample_seconds": 0}, "sample_seconds must be more than 0 and at most 60, not 0."),
    ({"sample_seconds": 61}, "sample_seconds must be more than 0 and at most 60, not 61."),
])
def test_bad_input_is_refused(run, args, message):
    result = run(host_resources_info, args)
    assert result["failed"] is True and result["msg"] == message


# ----- the parsers, on text this machine may not have ------------------------------------------------

def test_mounts_unescape_their_names_and_a_later_mount_hides_the_one_beneath():
    text = ("/dev/sda1 / ext4 rw 0 0\n"
            "proc /proc proc rw 0 0\n"
            "/dev/sdb1 /srv/my\\040data xfs rw 0 0\n"
            "/dev/sdc1 /var ext4 rw 0 0\n"
            "tmpfs /var tmpfs rw 0 0\n"
            "/dev/sdd1 /mnt nfs4 rw 0 0\n")
    assert parse_mounts(text) == [("/dev/sda1", "/", "ext4"), ("/dev/sdb1", "/srv/my data", "xfs"),
                                  ("/dev/sdd1", "/mnt", "nfs4")]


def test_a_filesystem_bound_at_several_places_is_listed_once_at_its_shortest_path(tmp_path):
    bound = tmp_path / "bound here"
    bound.mkdir()
    escaped = str(bound).replace(" ", "\\040")
    root_device = os.stat("/").st_dev
    listed = disks(f"/dev/x {escaped} ext4 rw 0 0\n/dev/x / ext4 rw 0 0\n/dev/gone /no/such/mount ext4 rw 0 0\n")
    if os.stat(bound).st_dev == root_device:
        assert [disk["mount"] for disk in listed] == ["/"]
    else:
        assert sorted(disk["mount"] for disk in listed) == ["/", str(bound)]


def test_a_process_name_may_hold_spaces_and_parentheses():
    fields = ["S", "1", "42", "42", "0", "-1", "4194560", "100", "0", "0", "0", "250", "50", "0", "0", "20", "0",
              "1", "0", "12345", "1000000", "77"]
    assert parse_process_stat(f"4242 (a) (b c) {' '.join(fields)} 0 0") == ("a) (b c", 300, 77, 12345)


def test_memory_without_memavailable_counts_free_and_caches():
    meminfo = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"
                            "SwapTotal: 400 kB\nSwapFree: 300 kB\nHugePages_Total: 0\n")
    assert meminfo["HugePages_Total"] == 0
    assert memory(meminfo) == {
        "total_bytes": 1024000, "available_bytes": 409600, "used_bytes": 614400, "used_percent": 60.0,
        "swap_total_bytes": 409600, "swap_used_bytes": 102400, "swap_used_percent": 25.0,
    }
