"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test runs its bootstrap script as ``python get_pip.py [pip options] pip==X``
inside a new virtual environment without pip. The download host is out of reach
here, so this bootstraps pip with Python's own ensurepip, then lets that pip
install what was asked for from the package index.
"""

import subprocess
import sys

# ensurepip has no setuptools or wheel to leave out; pip install does not know these flags.
requested = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True)
subprocess.run([sys.executable, "-m", "pip", "install", *requested], check=True)
