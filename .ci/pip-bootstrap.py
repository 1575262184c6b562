"""Stand-in for the pip bootstrap script that ansible-test downloads for its virtual
environments, from a host that CI machines may not reach: install the pip bundled with
the interpreter (ensurepip), then the pinned packages ansible-test asks for from the
package index."""

import subprocess
import sys

# get-pip's own switches mean nothing to `pip install`.
arguments = [argument for argument in sys.argv[1:] if argument not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", *arguments])
