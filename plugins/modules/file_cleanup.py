#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: file_cleanup
short_description: Remove old logs and temporary files by name pattern and age, never following a link
description:
  - Removes, in each folder of O(paths), the regular files whose name matches one of O(patterns) and none of
    O(excludes), and that were last modified more than O(older_than_days) days ago; with O(recurse), in the
    folders below too.
  - A pattern is a shell-style name pattern (C(*), C(?), C([...])) matched against one file's name. It is
    never expanded by a shell, so a file called C(*.log) or C($HOME) is just a name.
  - Links are never followed. A symbolic link is never removed either, dangling or not, and neither is what it
    points to; only regular files are candidates. A linked folder is not entered, and a folder of O(paths)
    that is itself a link is refused (in RV(errors)).
  - Every folder is opened without following links and files are removed relative to it, so a folder swapped
    for a link while the clean-up runs cannot lead it elsewhere.
  - A folder of O(paths) that does not exist is a warning, not a failure. A file or folder that cannot be read
    or removed is listed in RV(errors), with a warning, and the clean-up goes on.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
attributes:
  check_mode:
    support: full
    details: Removes nothing; RV(files_removed), RV(bytes_freed) and RV(removed) tell what would be removed.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second run removes nothing, until more files grow old enough.
options:
  paths:
    description:
      - The folders to clean, as absolute paths. A relative path, V(/) itself, the system's folders
        (C(/etc), C(/usr), C(/boot), C(/bin), C(/sbin), C(/lib), C(/var/lib), C(/proc), C(/sys) and what they
        hold), and whole C(/var), C(/home), C(/root), C(/opt), C(/srv), C(/run), C(/mnt) and C(/media) are refused,
        as written and as the links on the way resolve.
    type: list
    elements: str
    required: true
  patterns:
    description:
      - Shell-style patterns of the names of the files to remove, for example V(*.log) or V(app-*.gz).
      - Matched against file names only, so a pattern cannot contain C(/); case matters.
    type: list
    elements: str
    required: true
  excludes:
    description: Patterns of names to keep even when they match O(patterns).
    type: list
    elements: str
    default: []
  older_than_days:
    description:
      - Remove a file only when it was last modified (its mtime) more than this many days ago; fractions allowed.
      - V(0) removes every matching file modified before the run.
    type: float
    required: true
  recurse:
    description: Whether to clean the folders below each folder of O(paths) too.
    type: bool
    default: true
  same_filesystem:
    description: Whether to stay on the filesystem of each folder of O(paths), not entering folders mounted below it.
    type: bool
    default: true
notes:
  - Runs on the target host, with the rights of the connecting user (or of C(become)).
  - The folders named in O(paths) are reached through their full path, links in their parent folders included;
    only what lies below them is held to the rule of never following a link.
  - RV(bytes_freed) is the sum of the removed files' sizes; a file with other hard links frees no space.
seealso:
  - module: ansible.builtin.find
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Remove the application's logs older than 30 days, but keep the audit logs
  runbook.ops.file_cleanup:
    paths: ["{{ app_log_dir }}"]
    patterns: ["*.log", "*.log.[0-9]*", "*.gz"]
    excludes: ["audit*"]
    older_than_days: 30
  register: cleanup

- name: Say what it freed
  ansible.builtin.debug:
    msg: "{{ cleanup.files_removed }} files, {{ cleanup.bytes_freed | human_readable }}"

- name: See what a clean-up of old uploads would remove
  runbook.ops.file_cleanup:
    paths: ["{{ upload_dir }}"]
    patterns: ["upload-*"]
    older_than_days: 7
    recurse: false
  check_mode: true
"""

RETURN = r"""
files_removed:
  description: How many files were removed (in check mode, would be).
  returned: always
  type: int
  sample: 42
bytes_freed:
  description: The sum of their sizes in bytes.
  returned: always
  type: int
  sample: 1048576
removed:
  description: Their paths, at most the first 1000 (see RV(removed_truncated)).
  returned: always
  type: list
  elements: str
  sample: [/var/log/app/app.log.1, /var/log/app/app.log.2.gz]
removed_truncated:
  description: Whether more files were removed than RV(removed) lists.
  returned: always
  type: bool
kept_young:
  description: How many files matched the patterns (and no exclude) but were not old enough.
  returned: always
  type: int
  sample: 3
missing_paths:
  description: The folders of O(paths) that do not exist.
  returned: always
  type: list
  elements: str
  sample: [/var/log/old-app]
errors:
  description: What could not be read or removed, at most 1000, each with its path and the reason.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file or folder.
      type: str
      sample: /var/log/app/locked.log
    error:
      description: Why.
      type: str
      sample: Permission denied
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._files import Cleanup

WARNING_LIMIT = 10
# Folders whose files belong to the system, not to a clean-up by age: removing from them breaks the host.
SYSTEM_FOLDERS = ("/bin", "/boot", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr", "/var/lib")
# Folders that hold everything below them: a clean-up names the folder of its logs or temporary files inside.
BROAD_FOLDERS = ("/home", "/media", "/mnt", "/opt", "/root", "/run", "/srv", "/var")


def problems(params):
    """What is wrong with the options, in words, or None."""
    for path in params["paths"]:
        if not os.path.isabs(path):
            return f"paths must be absolute folders; {path!r} is relative."
        # (normpath keeps a leading //, which is the root folder all the same.)
        # As written and as the links on the way resolve: a link to / must not lead into /etc.
        for normal in ("/" + os.path.normpath(path).strip("/"), os.path.realpath(path)):
            if normal == "/":
                return f"paths must not be the root folder ({path!r})."
            if any(normal == system or normal.startswith(system + "/") for system in SYSTEM_FOLDERS):
                return f"paths must not be in a system folder ({path!r}); clean-up is for logs and temporary files."
            if normal in BROAD_FOLDERS:
                return f"paths must name the folder of the logs or temporary files, not all of {normal} ({path!r})."
    if not params["patterns"]:
        return "patterns must name at least one pattern."
    for option in ("patterns", "excludes"):
        for pattern in params[option]:
            if not pattern:
                return f"{option} must not hold an empty pattern."
            if "/" in pattern:
                return f"{option} match file names, not paths: {pattern!r} holds a /."
    if params["older_than_days"] < 0:
        return f"older_than_days must be 0 or more, not {params['older_than_days']:g}."
    return None


def main():
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "str", "required": True},
            "patterns": {"type": "list", "elements": "str", "required": True},
            "excludes": {"type": "list", "elements": "str", "default": []},
            "older_than_days": {"type": "float", "required": True},
            "recurse": {"type": "bool", "default": True},
            "same_filesystem": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    problem = problems(params)
    if problem:
        module.fail_json(msg=problem)

    cleanup = Cleanup(params["patterns"], params["excludes"], params["older_than_days"], recurse=params["recurse"],
                      same_filesystem=params["same_filesystem"], check_mode=module.check_mode)
    for folder in dict.fromkeys(os.path.normpath(path) for path in params["paths"]):
        cleanup.run(folder)
    result = cleanup.result()

    for folder in result["missing_paths"]:
        module.warn(f"{folder} does not exist; nothing to clean there.")
    for error in result["errors"][:WARNING_LIMIT]:
        module.warn(f"{error['path']}: {error['error']}")
    if len(cleanup.errors) > WARNING_LIMIT:
        module.warn(f"... and {len(cleanup.errors) - WARNING_LIMIT} more problems; see errors.")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
