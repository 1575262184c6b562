"""Command line of the Entra emulator.

    python -m tests.lab.entra serve --lab-dir D --port P --cert C --key K [--host H] [--token-lifetime S]
    python -m tests.lab.entra vars --lab-dir D [--port P] [--ca CA]     # lab_vars keys as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import EntraEmulator
from ._tokens import DEFAULT_TOKEN_LIFETIME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab.entra", description="Microsoft Entra emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve in the foreground until SIGTERM")
    serve.add_argument("--lab-dir", type=Path, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--cert", type=Path, required=True, help="server certificate (chain), PEM")
    serve.add_argument("--key", type=Path, required=True, help="server private key, PEM")
    serve.add_argument("--token-lifetime", type=int, default=DEFAULT_TOKEN_LIFETIME)
    serve.add_argument("--pid-file", type=Path)
    show = commands.add_parser("vars", help="print the lab_vars keys of the emulator as JSON")
    show.add_argument("--lab-dir", type=Path, required=True)
    show.add_argument("--port", type=int, default=8443)
    show.add_argument("--ca", type=Path, help="CA certificate that signed the server certificate")
    args = parser.parse_args(argv)
    if args.command == "serve":
        from ._server import serve as run

        run(args.lab_dir, args.host, args.port, args.cert, args.key, args.token_lifetime, args.pid_file)
        return 0
    emulator = EntraEmulator(args.lab_dir, port=args.port, ca_cert=args.ca)
    json.dump(emulator.vars(), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
