"""Stand-in for the get-pip bootstrap script that ansible-test downloads from a server this project cannot reach.

ansible-test (``_util/target/setup/requirements.py``, ``bootstrap``) creates an empty virtual environment
(``python -m venv --without-pip``), then runs the cached script ``~/.ansible/test/cache/get_pip_<X_Y>.py`` as
``__main__`` with that environment's Python and get-pip's arguments: the packages to install (``pip==24.2``),
pip options (``--disable-pip-version-check``) and get-pip's own ``--no-setuptools`` / ``--no-wheel``.

Like the real get-pip.py, which runs an embedded copy of pip, this runs the pip wheel that CPython ships in
``ensurepip`` (no download) to install exactly the requested packages from the package index pip is set up to use.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

GET_PIP_OPTIONS = {"--no-setuptools", "--no-wheel"}  # understood by get-pip.py, not by pip; we install neither


def bundled_pip_wheel() -> str:
    import ensurepip

    wheels = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"))
    if not wheels:
        sys.exit(f"get_pip stand-in: no pip wheel bundled with {sys.executable} (ensurepip/_bundled is empty)")
    return sorted(wheels)[-1]


def main(argv: list[str]) -> int:
    pip_arguments = [argument for argument in argv if argument not in GET_PIP_OPTIONS]
    # pip's own __main__ supports being run from inside its wheel: `python pip-X.whl/pip install ...`
    command = [sys.executable, os.path.join(bundled_pip_wheel(), "pip"), "install", "--upgrade", *pip_arguments]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
