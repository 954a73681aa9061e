# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A Linux host's resources, read from /proc and statvfs: disks, memory, load, CPU and the busiest processes.

Private to this collection: the interface may change in any release.

Each ``parse_*`` function reads one /proc file's text, so it can be tested with any text; the functions
without the prefix read the live system. Of a process, only its name (comm) is ever read, never its
command line, which can hold passwords and tokens.
"""

from __future__ import annotations

import os
import pwd
import re
import time

# Filesystems that hold no data of their own on a disk: the kernel's views, memory-backed ones (their use
# is memory, reported under memory) and read-only images that are always full.
PSEUDO_FILESYSTEMS = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs", "efivarfs",
    "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs", "rpc_pipefs", "securityfs", "selinuxfs",
    "squashfs", "sysfs", "tmpfs", "tracefs",
})


def percent(part, whole):
    return round(100.0 * part / whole, 1) if whole else 0.0


def read(path):
    with open(path, "rb") as opened:
        return opened.read().decode("utf-8", "replace")


# ----- disks -----------------------------------------------------------------------------------------

def unescape(field):
    """A field of /proc/self/mounts, whose spaces, tabs and backslashes are written in octal (\\040)."""
    return re.sub(r"\\([0-7]{3})", lambda found: chr(int(found[1], 8)), field)


def parse_mounts(text):
    """The mounts that hold data, as (device, mount point, filesystem type), a mount hiding any beneath it."""
    mounts = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            # A later line is mounted over an earlier one at the same place.
            mounts[unescape(fields[1])] = (unescape(fields[0]), fields[2])
    return [(device, mount, fstype) for mount, (device, fstype) in mounts.items() if fstype not in PSEUDO_FILESYSTEMS]


def disks(mounts_text=None):
    """Size, use and inodes of each filesystem that holds data, once each (a bind mount is the same disk)."""
    found = {}
    mounts = parse_mounts(read("/proc/self/mounts") if mounts_text is None else mounts_text)
    # The shortest path names a filesystem mounted (or bound) at several places.
    for device, mount, fstype in sorted(mounts, key=lambda entry: (len(entry[1]), entry[1])):
        try:
            device_id = os.stat(mount).st_dev
            usage = os.statvfs(mount)
        except OSError:
            continue  # gone, or not ours to see
        if device_id in found or not usage.f_blocks:
            continue
        used = (usage.f_blocks - usage.f_bfree) * usage.f_frsize
        free = usage.f_bavail * usage.f_frsize
        inodes_used = usage.f_files - usage.f_ffree
        found[device_id] = {
            "mount": mount,
            "device": device,
            "fstype": fstype,
            "size_bytes": usage.f_blocks * usage.f_frsize,
            "used_bytes": used,
            "free_bytes": free,
            # As df counts it: of what users may fill, the blocks reserved for root left out.
            "percent": percent(used, used + free),
            "inodes_total": usage.f_files,
            "inodes_used": inodes_used,
            # Some filesystems (btrfs, vfat) have no fixed number of inodes.
            "inodes_percent": percent(inodes_used, inodes_used + usage.f_favail) if usage.f_files else None,
        }
    return sorted(found.values(), key=lambda disk: disk["mount"])


# ----- memory, load, uptime --------------------------------------------------------------------------

def parse_meminfo(text):
    """/proc/meminfo as a dict of bytes."""
    values = {}
    for line in text.splitlines():
        name, _colon, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return values


def memory(meminfo):
    total = meminfo["MemTotal"]
    # Kernels before 3.14 do not estimate what is available; free plus caches is the old way to.
    available = meminfo.get("MemAvailable",
                            meminfo.get("MemFree", 0) + meminfo.get("Buffers", 0) + meminfo.get("Cached", 0))
    swap_total = meminfo.get("SwapTotal", 0)
    swap_used = swap_total - meminfo.get("SwapFree", 0)
    return {
        "total_bytes": total,
        "available_bytes": available,
        "used_bytes": total - available,
        "used_percent": percent(total - available, total),
        "swap_total_bytes": swap_total,
        "swap_used_bytes": swap_used,
        "swap_used_percent": percent(swap_used, swap_total),
    }


def load():
    one, five, fifteen = os.getloadavg()
    return {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}


def parse_uptime(text):
    return round(float(text.split()[0]), 1)


# ----- CPU and processes -----------------------------------------------------------------------------

def parse_cpu_times(text):
    """(busy, total) clock ticks of all CPUs from /proc/stat; waiting for I/O counts as idle."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            ticks = [int(value) for value in line.split()[1:]]
            # user nice system idle iowait irq softirq steal [guest guest_nice, already in user and nice]
            total = sum(ticks[:8])
            return total - ticks[3] - ticks[4], total
    return 0, 0


def parse_process_stat(text):
    """(name, CPU ticks used, resident pages, start time) from /proc/<pid>/stat.

    The name sits in parentheses and may itself hold spaces and parentheses: the fields after it are
    counted from the last closing one.
    """
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    # The fields of proc(5) from the third (state) on: utime and stime are 14 and 15, starttime 22, rss 24.
    return name, int(fields[11]) + int(fields[12]), int(fields[21]), int(fields[19])


def processes_now():
    """Each running process: pid -> (name, CPU ticks, resident pages, start time)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found[int(entry)] = parse_process_stat(read(f"/proc/{entry}/stat"))
            except (OSError, ValueError):
                continue  # it ended while we read
    return found


def owner(pid):
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def busiest(top, sample_seconds, memory_total, sleep=time.sleep):
    """The ``top`` processes by CPU over a sample of ``sample_seconds``, and by resident memory; and how busy
    all CPUs were over the same sample."""
    clock_ticks = os.sysconf("SC_CLK_TCK")
    page_size = os.sysconf("SC_PAGE_SIZE")
    cpu_before, before = parse_cpu_times(read("/proc/stat")), processes_now()
    started = time.monotonic()
    sleep(sample_seconds)
    cpu_after, after = parse_cpu_times(read("/proc/stat")), processes_now()
    elapsed = time.monotonic() - started

    rows = []
    for pid, (name, ticks, pages, start) in after.items():
        earlier = before.get(pid)
        # The same pid with another start time is a new process: all its ticks fell in the sample.
        used = ticks - earlier[1] if earlier and earlier[3] == start else ticks
        rows.append({"pid": pid, "name": name, "cpu_percent": round(100.0 * used / clock_ticks / elapsed, 1),
                     "rss_bytes": pages * page_size, "memory_percent": percent(pages * page_size, memory_total)})
    by_cpu = sorted((row for row in rows if row["cpu_percent"] > 0),
                    key=lambda row: (-row["cpu_percent"], -row["rss_bytes"], row["pid"]))[:top]
    by_memory = sorted(rows, key=lambda row: (-row["rss_bytes"], -row["cpu_percent"], row["pid"]))[:top]
    for row in by_cpu + by_memory:
        row.setdefault("user", owner(row["pid"]))

    busy = cpu_after[0] - cpu_before[0]
    return {
        "count": len(rows),
        "sampled_seconds": round(elapsed, 3),
        "cpu_busy_percent": percent(busy, cpu_after[1] - cpu_before[1]),
        "by_cpu": by_cpu,
        "by_memory": by_memory,
    }


def gather(top, sample_seconds):
    meminfo = memory(parse_meminfo(read("/proc/meminfo")))
    gathered = {
        "disks": disks(),
        "memory": meminfo,
        "load": load(),
        "cpu_count": os.cpu_count(),
        "uptime_seconds": parse_uptime(read("/proc/uptime")),
    }
    if top:
        gathered["processes"] = busiest(top, sample_seconds, meminfo["total_bytes"])
    return gathered
