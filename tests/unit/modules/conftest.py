"""Run a module's real main() in-process and read the result it prints."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def run(capsys):
    """Run ``module.main()`` with ``args``; return the parsed result it printed."""
    def run_module(module, args, check=False, diff=False):
        with patch_module_args({**args, "_ansible_check_mode": check, "_ansible_diff": diff}):
            with pytest.raises(SystemExit) as exited:
                module.main()
        out = capsys.readouterr().out
        result = json.loads(out)
        result["_stdout"] = out
        assert (exited.value.code == 0) is not result.get("failed", False)
        return result
    return run_module
