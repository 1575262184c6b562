"""Install one collection from the `ansible` package's wheel into a collections path.

Galaxy servers may be out of reach where the package index is not: the `ansible` wheel
bundles the community collections, so `ansible.windows` (which the directory_sync role
calls) is taken from there for the linters and tests.
usage: python .ci/bundled-collection.py NAMESPACE.NAME COLLECTIONS_PATH WHEEL_CACHE [REQUIREMENT]
"""

import subprocess
import sys
import zipfile
from pathlib import Path


def main(name: str, collections_path: str, cache: str, requirement: str = "ansible>=13") -> None:
    namespace, collection = name.split(".")
    cache_dir = Path(cache)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not list(cache_dir.glob("ansible-*.whl")):
        subprocess.check_call(
            [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
             "--only-binary", ":all:", "-d", str(cache_dir), requirement]
        )
    wheel = sorted(cache_dir.glob("ansible-*.whl"))[-1]
    prefix = f"ansible_collections/{namespace}/{collection}/"
    with zipfile.ZipFile(wheel) as archive:
        members = [member for member in archive.namelist() if member.startswith(prefix)]
        if not members:
            sys.exit(f"{wheel.name} holds no collection {name}")
        archive.extractall(collections_path, members)
    print(f"{name} from {wheel.name} into {collections_path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
