"""tests/lab/_apt.py against stand-ins for dpkg-query and apt-get: small scripts first on PATH.

The scripts keep their state in files: a package is installed when $FAKE_APT_STATE/installed/<name>
exists, and each apt-get call is logged, so the tests see what was run and what came of it.
"""

import os
import stat

import pytest

from tests.lab._apt import SAMBA_PACKAGES, InstallError, ensure_samba_installed, missing_packages

DPKG_QUERY = r"""#!/bin/sh
# dpkg-query -W -f=FORMAT PACKAGE...: one "name status" line per known package, like dpkg.
shift 2
for package in "$@"; do
  if [ -e "$FAKE_APT_STATE/installed/$package" ]; then
    printf '%s:amd64 ii \n' "$package"
  elif [ -e "$FAKE_APT_STATE/removed/$package" ]; then
    printf '%s rc \n' "$package"
  else
    echo "dpkg-query: no packages found matching $package" >&2
  fi
done
exit 0
"""

APT_GET = r"""#!/bin/sh
echo "$DEBIAN_FRONTEND $*" >> "$FAKE_APT_STATE/apt-get.log"
if [ -e "$FAKE_APT_STATE/fail-$1" ]; then
  echo "E: Unable to locate package samba" >&2
  exit 100
fi
[ "$1" = update ] && exit 0
[ "$1" = install ] && [ "$2" = -y ] || exit 64
shift 2
[ -e "$FAKE_APT_STATE/installs-nothing" ] && exit 0
for package in "$@"; do : > "$FAKE_APT_STATE/installed/$package"; done
"""


@pytest.fixture
def apt(tmp_path, monkeypatch):
    """A PATH holding only the stand-ins; returns the state directory."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    for directory in (bin_dir, state / "installed", state / "removed"):
        directory.mkdir(parents=True)
    for name, script in (("dpkg-query", DPKG_QUERY), ("apt-get", APT_GET)):
        path = bin_dir / name
        path.write_text(script)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_APT_STATE", str(state))
    monkeypatch.delenv("DEBIAN_FRONTEND", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return state


def installed(state, *packages):
    for package in packages:
        (state / "installed" / package).touch()


def apt_calls(state):
    log = state / "apt-get.log"
    return log.read_text().splitlines() if log.exists() else []


def test_missing_means_not_reported_installed_by_dpkg(apt):
    installed(apt, "samba", "winbind")
    (apt / "removed" / "ldap-utils").touch()  # removed, its configuration kept: not installed
    assert missing_packages(("samba", "ldap-utils", "winbind", "krb5-user")) == ["ldap-utils", "krb5-user"]


def test_nothing_is_run_when_everything_is_installed(apt):
    installed(apt, *SAMBA_PACKAGES)
    assert ensure_samba_installed() == []
    assert apt_calls(apt) == []


def test_missing_packages_are_installed_non_interactively_after_an_update(apt):
    installed(apt, "samba", "winbind", "krb5-user")
    wanted = [name for name in SAMBA_PACKAGES if name not in ("samba", "winbind", "krb5-user")]

    assert ensure_samba_installed() == wanted
    assert apt_calls(apt) == ["noninteractive update", f"noninteractive install -y {' '.join(wanted)}"]
    assert missing_packages() == []


def test_still_missing_after_install_is_a_clear_error(apt):
    installed(apt, *SAMBA_PACKAGES[1:])
    (apt / "installs-nothing").touch()

    with pytest.raises(InstallError, match=r"^still missing after apt-get install: samba$"):
        ensure_samba_installed()
    assert apt_calls(apt)[-1] == "noninteractive install -y samba"


def test_a_failing_apt_get_is_reported_with_its_output(apt):
    (apt / "fail-install").touch()
    with pytest.raises(InstallError, match=r"apt-get install -y samba .* failed \(100\):\nE: Unable to locate package"):
        ensure_samba_installed()


def test_not_root_says_what_to_run_and_runs_nothing(apt, monkeypatch):
    installed(apt, *SAMBA_PACKAGES[:-2])
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    with pytest.raises(InstallError) as raised:
        ensure_samba_installed()
    assert str(raised.value) == (
        "Samba packages missing; as root run: apt-get update && apt-get install -y ldap-utils krb5-user"
    )
    assert apt_calls(apt) == []


def test_without_dpkg_the_commands_themselves_must_be_there(apt):
    (apt.parent / "bin" / "dpkg-query").unlink()
    with pytest.raises(InstallError, match=r"not a Debian system and .*ldapsearch.* not found: install Samba"):
        ensure_samba_installed()
