"""Install the Debian packages the AD lab needs, when they are missing."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.lab._errors import LabError

# What provisioning an AD DC, running it and reading it back with ldapsearch need.
SAMBA_PACKAGES = (
    "samba",
    "samba-ad-provision",
    "samba-dsdb-modules",
    "samba-vfs-modules",
    "winbind",
    "ldap-utils",
    "krb5-user",
)
REQUIRED_COMMANDS = ("samba", "samba-tool", "ldapsearch")


class InstallError(LabError):
    pass


def missing_packages(packages: tuple[str, ...] = SAMBA_PACKAGES) -> list[str]:
    """The packages dpkg does not report as installed."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = {
        fields[0].split(":")[0]
        for fields in (line.split() for line in result.stdout.splitlines())
        if len(fields) >= 2 and fields[1].startswith("ii")
    }
    return [name for name in packages if name not in installed]


def ensure_samba_installed(packages: tuple[str, ...] = SAMBA_PACKAGES) -> list[str]:
    """Install what is missing with apt-get; return the packages installed."""
    if shutil.which("dpkg-query") is None:
        absent = [cmd for cmd in REQUIRED_COMMANDS if shutil.which(cmd, path=_sbin_path()) is None]
        if absent:
            raise InstallError(f"not a Debian system and {', '.join(absent)} not found: install Samba")
        return []
    missing = missing_packages(packages)
    if not missing:
        return []
    command = ["apt-get", "install", "-y", *missing]
    if os.geteuid() != 0:
        raise InstallError(f"Samba packages missing; as root run: apt-get update && {' '.join(command)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "update"], command):
        done = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
            raise InstallError(f"{' '.join(step)} failed ({done.returncode}):\n{tail}")
    still_missing = missing_packages(packages)
    if still_missing:
        raise InstallError(f"still missing after apt-get install: {', '.join(still_missing)}")
    return missing


def _sbin_path() -> str:
    # samba lives in /usr/sbin, which a non-login PATH may lack.
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def find_command(name: str) -> str:
    path = shutil.which(name, path=_sbin_path())
    if path is None:
        raise InstallError(f"{name} not found even though its package is installed")
    return path
