# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Offline stand-in for the get-pip script that ansible-test downloads to put pip into its virtual environments.

ansible-test creates each environment without pip, then runs its cached copy of this file there (sanity.sh
puts it in place) with pip install arguments and get-pip's own --no-setuptools and --no-wheel options. pip
comes from the wheel bundled with the interpreter instead of the network; the requested packages then come
from the package indexes this machine's pip configuration names.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

# get-pip options that pip does not know, each keeping get-pip from installing one package.
EXCLUDING_OPTIONS = {
    "--no-setuptools": "setuptools",
    "--no-wheel": "wheel",
}


def is_installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def main() -> None:
    arguments = sys.argv[1:]
    pip_arguments = [argument for argument in arguments if argument not in EXCLUDING_OPTIONS]
    excluded = {package for option, package in EXCLUDING_OPTIONS.items() if option in arguments}
    included = sorted(set(EXCLUDING_OPTIONS.values()) - excluded)
    pip = [sys.executable, "-m", "pip"]

    # A child process, because ensurepip clears the PIP_* variables of the process it runs in and points
    # PIP_CONFIG_FILE at /dev/null, which would hide the package indexes from the install below.
    subprocess.run([sys.executable, "-m", "ensurepip"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*pip, "install", *pip_arguments, *included], check=True)

    # ensurepip before Python 3.12 installs setuptools along with pip.
    unwanted = sorted(package for package in excluded if is_installed(package))
    if unwanted:
        subprocess.run([*pip, "uninstall", "--quiet", "--yes", *unwanted], check=True)


if __name__ == "__main__":
    main()
