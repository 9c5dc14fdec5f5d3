"""`python3 -m tests.vendor [NAME...]`: build OpenWrt components into build/openwrt (all by default)."""

from __future__ import annotations

import sys
import time

from . import RECIPES, STAGE, BuildFailed, Unavailable, _load_recipes, build


def main(argv: list[str]) -> int:
    _load_recipes()
    names = argv or sorted(RECIPES)
    status = 0
    for name in names:
        started = time.monotonic()
        try:
            build(name)
            print(f"{name}: ready in {STAGE} ({time.monotonic() - started:.1f} s)")
        except (Unavailable, BuildFailed, KeyError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
