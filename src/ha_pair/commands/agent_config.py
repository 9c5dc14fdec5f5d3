"""`ha-pair agent-config`: the agent's configuration child (agent/config_child.py). It validates
/etc/config as `ha-pair check` does (without the daemons' parsers) and prints the model and the
error texts as one JSON line (config/wire.py); exit 0 whenever it could answer, valid or not."""

from __future__ import annotations

from ..config.load import validate
from ..config.wire import dumps
from ..paths import Paths

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    import argparse


def agent_config(_args: argparse.Namespace, paths: Paths) -> int:
    result = validate(paths)
    print(dumps(result.model, [str(error) for error in result.errors]))
    return 0
