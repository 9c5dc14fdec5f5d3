"""Read the UCI packages ha-pair depends on from a root and validate them into a Model."""

from __future__ import annotations

import os

from ..paths import Paths
from ..uci import Package, UciSyntaxError, load
from .validate import Inputs, Result, build_model
from .values import Problem


def _read(paths: Paths, name: str, errors: list[Problem]) -> Package | None:
    path = paths.config(name)
    if not path.exists():
        return None
    try:
        return load(path, name)
    except UciSyntaxError as exc:
        errors.append(Problem(name, exc.message, exc.path, exc.line))
    except OSError as exc:
        errors.append(Problem(name, f"cannot read: {exc.strerror}", str(path)))
    return None


def read_inputs(paths: Paths) -> tuple[Inputs | None, list[Problem]]:
    """The ha, network, dhcp and system packages; problems for unreadable or broken files."""
    errors: list[Problem] = []
    ha = _read(paths, "ha", errors)
    network = _read(paths, "network", errors)
    dhcp = _read(paths, "dhcp", errors)
    system = _read(paths, "system", errors)
    if ha is None and not errors:
        errors.append(Problem("ha", "missing file", str(paths.config("ha"))))
    if errors or ha is None:
        return None, errors
    return Inputs(ha=ha, network=network, dhcp=dhcp, system=system), errors


def validate(paths: Paths) -> Result:
    """Everything `ha-pair check` knows without running keepalived."""
    return validate_inputs(paths)[1]


def validate_inputs(paths: Paths) -> tuple[Inputs | None, Result]:
    """The packages as read, and their validation: for callers that need both (render reads
    /etc/config/dhcp too), so that no file is read twice."""
    inputs, errors = read_inputs(paths)
    if inputs is None:
        return None, Result(None, tuple(errors), ())
    return inputs, build_model(inputs, paths, _executable_under(paths))


def validate_proposal(paths: Paths, ha: Package) -> Result:
    """The rules of `ha-pair check` for an /etc/config/ha that is not on disk yet (the values of
    LuCI's settings form), against /etc/config/network, dhcp and system as they are."""
    errors: list[Problem] = []
    others = {name: _read(paths, name, errors) for name in ("network", "dhcp", "system")}
    if errors:
        return Result(None, tuple(errors), ())
    return build_model(Inputs(ha=ha, **others), paths, _executable_under(paths))


def _executable_under(paths: Paths):
    def is_executable(router_path: str) -> bool:
        target = paths.under(router_path)
        return target.is_file() and os.access(target, os.X_OK)

    return is_executable
