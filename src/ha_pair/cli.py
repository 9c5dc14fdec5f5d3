"""The `ha-pair` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .commands import config
from .paths import Paths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ha-pair", description="Active/backup router pair for OpenWrt.")
    parser.add_argument("--root", type=Path, default=Path("/"),
                        help="treat DIR as the router's / (tests and the lab); default /")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="validate /etc/config/ha and test the rendered keepalived.conf")
    p.add_argument("--no-keepalived-test", action="store_true", help="skip `keepalived -t`")
    p.set_defaults(handler=config.check)

    p = sub.add_parser("render", help="write the generated files (nothing when the config is invalid)")
    p.set_defaults(handler=config.render)

    p = sub.add_parser("show", help="print what render would write, without writing")
    p.set_defaults(handler=config.show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args, Paths(args.root))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
