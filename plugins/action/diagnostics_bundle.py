# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""runbook.ops.diagnostics_bundle: write collected diagnostics as one .tar.gz on the controller
(documentation in plugins/modules/diagnostics_bundle.py)."""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import time

from ansible_collections.runbook.ops.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.runbook.ops.plugins.plugin_utils._redact import (
    SECRET_VARIABLES,
    mask_shapes,
    mask_values,
    secret_values,
)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "files": {"type": "dict", "required": True},
    "redact_env": {"type": "list", "elements": "str", "default": list(SECRET_VARIABLES)},
    "redact": {"type": "list", "elements": "str", "default": [], "no_log": True},
}


def as_text(content):
    """A file's text: strings as they are, anything else as indented JSON."""
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"


def problems(args):
    """What is wrong with the arguments, before anything is written."""
    found = []
    if not args["path"].endswith(".tar.gz"):
        found.append(f"path must end in .tar.gz: {args['path']!r}.")
    if os.path.lexists(args["path"]):
        found.append(f"{args['path']} exists already; a bundle is never overwritten.")
    for name in args["files"]:
        parts = name.split("/")
        if not name or name.startswith("/") or any(part in ("", ".", "..") for part in parts):
            found.append(f"{name!r} is not a relative file name inside the bundle.")
    return found


def masked_files(files, values):
    """Each file's bytes with secrets masked, and the names of the files where something was masked."""
    contents, redacted = {}, []
    for name, content in sorted(files.items()):
        text = as_text(content)
        clean = mask_shapes(mask_values(text, values))
        if clean != text:
            redacted.append(name)
        contents[name] = clean.encode("utf-8")
    return contents, redacted


def write_bundle(path, contents):
    """Write the archive beside its final name and rename it, so no half bundle ever has that name."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    top = os.path.basename(path)[:-len(".tar.gz")]
    descriptor, partial = tempfile.mkstemp(prefix=".partial-", suffix=".tar.gz", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as archive:
            for name, data in contents.items():
                member = tarfile.TarInfo(f"{top}/{name}")
                member.size, member.mode, member.mtime = len(data), 0o600, int(time.time())
                archive.addfile(member, io.BytesIO(data))
        os.chmod(partial, 0o600)
        os.link(partial, path)  # fails rather than replace a bundle that appeared meanwhile
    finally:
        os.unlink(partial)
    return os.path.getsize(path)


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args):
        found = problems(args)
        if found:
            return {"failed": True, "msg": "The diagnostics bundle cannot be written: " + " ".join(found)}
        contents, redacted = masked_files(args["files"], secret_values(args["redact_env"], args["redact"]))
        listing = [{"name": name, "bytes": len(data)} for name, data in contents.items()]
        if self._task.check_mode:
            return {"changed": True, "path": args["path"], "contents": listing, "redacted": redacted, "bytes": None}
        try:
            size = write_bundle(args["path"], contents)
        except OSError as exc:
            return {"failed": True, "path": args["path"],
                    # When the final name was taken meanwhile, the error's second file is the one that counts.
                    "msg": f"The diagnostics bundle cannot be written: {exc.strerror} "
                           f"({exc.filename2 or exc.filename or args['path']})."}
        return {"changed": True, "path": args["path"], "contents": listing, "redacted": redacted, "bytes": size}
