"""Run a module's real main() and read the result it prints."""
import json
import os
import subprocess
import sys

import pytest
from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def run(capsys, tmp_path):
    """Run ``module.main()`` with ``args``; return the parsed result it printed.

    ``own_process`` runs it in a process of its own, as Ansible does. Tests of warnings need that: in
    pytest's process, the controller's plugins loaded by other tests take the module's warnings over.
    """
    def run_module(module, args, check=False, diff=False, own_process=False):
        args = {**args, "_ansible_check_mode": check, "_ansible_diff": diff}
        if own_process:
            arguments = tmp_path / "arguments.json"
            arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
            done = subprocess.run([sys.executable, module.__file__, str(arguments)], capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, check=False)
            out, code = done.stdout, done.returncode
        else:
            with patch_module_args(args):
                with pytest.raises(SystemExit) as exited:
                    module.main()
            out, code = capsys.readouterr().out, exited.value.code
        result = json.loads(out)
        result["_stdout"] = out
        assert (code == 0) is not result.get("failed", False)
        return result
    return run_module
