# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Removing old files by name pattern and age, without ever following a link.

Private to this collection: the interface may change in any release.

The runbook's shell script deleted with patterns the shell expanded, through paths a link could redirect.
Here a pattern is only ever matched (fnmatch) against one file's name, and every step works on an open
folder rather than a path: each folder is opened with O_NOFOLLOW, its entries are read with lstat relative
to it, and a file is removed with unlink relative to it. A folder swapped for a link while the clean-up
runs is then either refused when it is opened, or, when it was already open, still the same folder.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import time

REPORT_LIMIT = 1000
OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SECONDS_PER_DAY = 86400


def shown(path):
    """A path as text for the result, even when a name is not UTF-8."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class Cleanup:
    """One clean-up: call ``run(folder)`` for each folder, then read the counts and lists."""

    def __init__(self, patterns, excludes, older_than_days, recurse=True, same_filesystem=True, check_mode=False,
                 now=None):
        self.patterns = patterns
        self.excludes = excludes
        self.cutoff = (time.time() if now is None else now) - older_than_days * SECONDS_PER_DAY
        self.recurse = recurse
        self.same_filesystem = same_filesystem
        self.check_mode = check_mode
        self.files_removed = 0
        self.bytes_freed = 0
        self.kept_young = 0
        self.removed = []
        self.missing_paths = []
        self.errors = []
        # Folders already cleaned, by device and inode: nested or repeated paths are cleaned once.
        self.seen = set()

    def wanted(self, name):
        """Whether a file of this name is one to remove (when old enough)."""
        return (any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)
                and not any(fnmatch.fnmatchcase(name, pattern) for pattern in self.excludes))

    def error(self, path, problem):
        self.errors.append({"path": shown(path), "error": problem})

    def run(self, folder):
        """Clean ``folder`` (absolute), and the folders below it when recursing."""
        try:
            found = os.lstat(folder)
        except FileNotFoundError:
            self.missing_paths.append(shown(folder))
            return
        except OSError as exc:
            self.error(folder, exc.strerror)
            return
        if stat.S_ISLNK(found.st_mode):
            self.error(folder, "is a symbolic link, which is never followed; name the folder it points to")
            return
        if not stat.S_ISDIR(found.st_mode):
            self.error(folder, "is not a folder")
            return
        top = self._open(folder, None, folder, found)
        if top is not None:
            self._walk(top, folder, found.st_dev)

    def _open(self, name, parent_fd, path, expected):
        """Open a folder without following a link; None (with the reason in errors) when it cannot be."""
        try:
            fd = os.open(name, OPEN_FOLDER, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                self.error(path, "became a symbolic link or a file while cleaning; not followed")
            elif exc.errno != errno.ENOENT:  # removed meanwhile: nothing to clean
                self.error(path, exc.strerror)
            return None
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (expected.st_dev, expected.st_ino):
            os.close(fd)
            self.error(path, "was replaced by another folder while cleaning; not entered")
            return None
        if (opened.st_dev, opened.st_ino) in self.seen:
            os.close(fd)
            return None
        self.seen.add((opened.st_dev, opened.st_ino))
        return fd

    def _names(self, fd, path):
        try:
            with os.scandir(fd) as entries:
                return sorted(entry.name for entry in entries)
        except OSError as exc:
            self.error(path, exc.strerror)
            return []

    def _walk(self, top_fd, top_path, device):
        # Depth first with a stack of open folders rather than recursion: a deep tree cannot exhaust
        # Python's recursion limit, and each folder stays open while its entries are handled.
        stack = [(top_fd, top_path, iter(self._names(top_fd, top_path)))]
        while stack:
            fd, path, names = stack[-1]
            name = next(names, None)
            if name is None:
                os.close(fd)
                stack.pop()
                continue
            entry_path = os.path.join(path, name)
            try:
                found = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed meanwhile
            except OSError as exc:
                self.error(entry_path, exc.strerror)
                continue

            if stat.S_ISDIR(found.st_mode):
                if self.recurse and (found.st_dev == device or not self.same_filesystem):
                    below = self._open(name, fd, entry_path, found)
                    if below is not None:
                        stack.append((below, entry_path, iter(self._names(below, entry_path))))
            elif stat.S_ISREG(found.st_mode) and self.wanted(name):
                self._consider(fd, name, entry_path, found)
            # Links, sockets, pipes and devices are never candidates.

    def _consider(self, fd, name, path, found):
        if found.st_mtime >= self.cutoff:
            self.kept_young += 1
            return
        if not self.check_mode:
            try:
                # Relative to the open folder: whatever its path leads to now, this name in this folder goes.
                os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                return
            except OSError as exc:
                self.error(path, exc.strerror)
                return
        self.files_removed += 1
        self.bytes_freed += found.st_size
        if len(self.removed) < REPORT_LIMIT:
            self.removed.append(shown(path))

    def result(self):
        return {
            "changed": self.files_removed > 0,
            "files_removed": self.files_removed,
            "bytes_freed": self.bytes_freed,
            "removed": self.removed,
            "removed_truncated": self.files_removed > len(self.removed),
            "kept_young": self.kept_young,
            "missing_paths": self.missing_paths,
            "errors": self.errors[:REPORT_LIMIT],
        }
