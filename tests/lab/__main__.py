"""python -m tests.lab up | down [--purge] | status | load SCENARIO.yml"""

from __future__ import annotations

import argparse
import sys
import time

import yaml

from tests.lab import Lab, LabError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.lab",
        description="The test lab (Samba AD and the Entra emulator) in $HYBRID_LAB_DIR, default .lab",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the lab, provisioning or installing what is missing")
    down = commands.add_parser("down", help="stop the lab, keeping its files")
    down.add_argument("--purge", action="store_true", help="also delete the lab's files (a fresh lab next time)")
    commands.add_parser("status", help="print state and lab_vars; exit 0 only when healthy")
    load = commands.add_parser("load", help="replace the lab's content with a scenario file")
    load.add_argument("scenario", help="a scenario YAML file, e.g. tests/lab/scenarios/basic.yml")
    args = parser.parse_args(argv)

    lab = Lab.from_env()
    try:
        return COMMANDS[args.command](lab, args)
    except LabError as err:
        print(f"lab {args.command}: {err}", file=sys.stderr)
        return 1


def _up(lab: Lab, args) -> int:
    started = time.monotonic()
    lab.up()
    print(f"lab up in {time.monotonic() - started:.1f} s; settings in {lab.vars_path}")
    return 0


def _down(lab: Lab, args) -> int:
    lab.down(purge=args.purge)
    print(f"lab down{' and purged' if args.purge else ''}: {lab.lab_dir}")
    return 0


def _status(lab: Lab, args) -> int:
    status = lab.status()
    for name, (ok, text) in status.items():
        print(f"{name}: {'healthy' if ok else 'NOT healthy'}: {text}")
    if lab.vars:
        print(f"# {lab.vars_path}")
        print(yaml.safe_dump(lab.vars, sort_keys=True), end="")
    return 0 if all(ok for ok, _text in status.values()) else 1


def _load(lab: Lab, args) -> int:
    summary = lab.load(args.scenario)
    print(yaml.safe_dump({"loaded": args.scenario, **summary}, sort_keys=False), end="")
    return 0


COMMANDS = {"up": _up, "down": _down, "status": _status, "load": _load}

if __name__ == "__main__":
    sys.exit(main())
