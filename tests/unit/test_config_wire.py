"""The agent's configuration comes from a child process (`ha-pair agent-config`) as one JSON line
(config/wire.py): the model it rebuilds must be the model `ha-pair check` validated, for every
option of the matrix, and the child's errors must reach the agent word for word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ha_pair.agent import config_child
from ha_pair.config import wire
from ha_pair.config.load import validate
from ha_pair.paths import Paths
from ha_pair.render import generated_files
from tests.support import pair, tree
from tests.unit.render_cases import CASES
from tests.unit.test_render_golden import case_model


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_rebuilt_model_is_the_validated_one_and_renders_the_same_files(name: str):
    model = case_model(name)
    text = wire.dumps(model, [])
    assert "\n" not in text
    rebuilt, errors = wire.loads(text.encode())
    assert errors == []
    assert rebuilt == model and type(rebuilt.vips) is tuple
    assert generated_files(rebuilt) == generated_files(model)


def test_addresses_and_secrets_keep_their_types_and_values():
    rebuilt, _ = wire.loads(wire.dumps(case_model("auth-pass"), []))
    assert rebuilt.node.auth_pass == "S3cr3t-x"
    assert type(rebuilt.node.peer).__name__ == "IPv4Address" and str(rebuilt.node.peer) == "10.255.0.2"
    assert [type(a).__name__ for a in rebuilt.vips[0].addresses] == ["IPv4Interface"]
    ipv6, _ = wire.loads(wire.dumps(case_model("ipv6-lan"), []))
    assert str(ipv6.vips[0].link_local) == "fe80::1/64"


def test_errors_pass_through_unchanged():
    errors = ["ha.lan.vrid: '999' is outside 1-255 (/etc/config/ha:12)", "ha.x.name: bad byte \udcff, \"quoted\""]
    assert wire.loads(wire.dumps(None, errors)) == (None, errors)


@pytest.mark.parametrize("text", ['{"model": {"!": "Paths", "=": "/"}, "errors": []}',
                                  '{"model": {"!": "Popen", "=": "/bin/sh"}, "errors": []}',
                                  '{"model": null}', "not json"])
def test_anything_but_a_model_is_refused(text: str):
    with pytest.raises((ValueError, KeyError)):
        wire.loads(text)


def test_the_child_answers_what_check_finds(tmp_path: Path):
    """Through the real child on a router tree: the same model as validating in-process; for a broken
    config the same error texts, each naming its UCI option."""
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    paths = Paths(str(root))
    model, errors = config_child.validate(paths)
    assert errors == [] and model == validate(paths).model
    tree.write_config(root, "ha", pair.ha("r1").replace("option vrid '51'", "option vrid '999'")
                      .replace("option interface 'wan'", "option interface 'nowhere'"))
    model, errors = config_child.validate(paths)
    assert model is None and errors == [str(e) for e in validate(paths).errors]
    assert any(e.startswith("ha.lan.vrid: ") for e in errors) and any(e.startswith("ha.wan.interface: ") for e in errors)


def test_a_child_that_fails_is_an_error_with_its_reason(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    paths = Paths(str(root))
    (root / "usr/sbin/ha-pair").write_text("import sys\nsys.stderr.write('boom\\n')\nsys.exit(3)\n")
    model, errors = config_child.validate(paths)
    assert model is None and len(errors) == 1 and "failed (exit 3): boom" in errors[0]
    (root / "usr/sbin/ha-pair").write_text("print('{\"model\": 1')\n")
    assert "unreadable answer" in config_child.validate(paths)[1][0]
    (root / "usr/sbin/ha-pair").write_text("import sys\nsys.stderr.write('boom\\n')\nsys.exit(3)\n")
    assert config_child.config_sync(paths, dry_run=True) == {"ok": False, "refused": False,
                                                             "error": "config sync failed (exit 3): boom"}
    (root / "usr/sbin/ha-pair").unlink()
    assert config_child.validate(paths)[0] is None


def test_the_wire_form_is_plain_json():
    data = json.loads(wire.dumps(case_model("checks"), ["x"]))
    assert data["errors"] == ["x"] and data["model"]["!"] == "Model"
    assert data["model"]["node"]["peer"] == {"!": "IPv4Address", "=": "10.255.0.2"}
