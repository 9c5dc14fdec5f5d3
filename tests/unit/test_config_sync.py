"""Config sync without SSH: the shared part leaves out every per-node option, the receiving node
puts its own back, refuses a message carrying one, a configuration that would not validate there
or an oversized one (changing nothing), and the forced command's two verbs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ha_pair.config.load import validate
from ha_pair.config.shared import merge_shared, per_node_options, shared_part
from ha_pair.leasesync.peer import serve
from ha_pair.operate import config_sync
from ha_pair.paths import Paths
from ha_pair.uci import parse
from ha_pair.uci.writer import dump
from tests.support import pair, tree


def router(tmp_path: Path, name: str, **ha_options: str) -> Paths:
    paths = Paths(str(tree.make_tree(tmp_path / name, pair.configs(name, **ha_options))))
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    return paths


def test_the_shared_part_has_no_per_node_value_and_merging_puts_the_receivers_back():
    r1 = parse(pair.ha("r1", extra_global="\toption node_name 'one'\n\toption priority '200'\n"), "ha")
    r2 = parse(pair.ha("r2", extra_global="\toption node_name 'two'\n\toption preempt_delay '3'\n"), "ha")
    sent = shared_part(r1)
    assert per_node_options(sent) == [] and per_node_options(r1) == [
        "ha.global.role", "ha.global.peer", "ha.global.node_name", "ha.global.priority"]
    merged = merge_shared(r2, sent)
    g = merged.find("global")
    assert (g.get("role"), g.get("peer"), g.get("node_name"), g.get("priority")) == ("secondary", "10.255.0.1", "two", None)
    assert g.get("preempt_delay") is None  # a shared option follows the sender
    assert shared_part(merged).content() == sent.content()


def test_accept_keeps_per_node_values_and_refuses_without_changing_anything(tmp_path: Path, monkeypatch):
    reloads = []
    monkeypatch.setattr(config_sync, "_reload", lambda paths: reloads.append(paths))
    r1 = router(tmp_path, "r1", extra_global="\toption preempt_delay '7'\n")
    r2 = router(tmp_path, "r2")
    before = Path(r2.ha_config).read_text()
    # a per-node option in the message: refused
    with pytest.raises(config_sync.Refused, match=r"carries per-node options \(ha.global.role, ha.global.peer\)"):
        config_sync.accept(r2, Path(r1.ha_config).read_bytes())
    # valid on the sender, not here: a script check whose script r2 does not have
    script = Path(r1.under("/usr/libexec/lab-check"))
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    Path(r1.ha_config).write_text(Path(r1.ha_config).read_text() +
                                  "\nconfig check 'custom'\n\toption type 'script'\n\toption script '/usr/libexec/lab-check'\n")
    assert validate(r1).model is not None
    with pytest.raises(config_sync.Refused, match=r"it would not validate here: ha.custom.script"):
        config_sync.accept(r2, config_sync.shared_text(r1).encode())
    with pytest.raises(config_sync.Refused, match="larger than 65536 bytes"):
        config_sync.accept(r2, b"#" * 70000)
    with pytest.raises(config_sync.Refused, match="unreadable configuration"):
        config_sync.accept(r2, b"config global 'global\n")
    assert Path(r2.ha_config).read_text() == before and reloads == []
    # without the check: taken, r2's own role and peer kept, reloaded once
    Path(r1.ha_config).write_text(pair.ha("r1", extra_global="\toption preempt_delay '7'\n"))
    assert config_sync.accept(r2, config_sync.shared_text(r1).encode()) == {"ok": True, "changed": True}
    taken = validate(r2).model
    assert taken.node.role == "secondary" and str(taken.node.peer) == "10.255.0.1" and taken.node.preempt_delay == 7
    assert taken.shared_digest == validate(r1).model.shared_digest and len(reloads) == 1
    assert config_sync.accept(r2, config_sync.shared_text(r1).encode()) == {"ok": True, "changed": False}
    assert len(reloads) == 1


def test_the_forced_command_serves_config_get_and_refuses_a_bad_config_put(tmp_path: Path, capsys):
    r2 = router(tmp_path, "r2")
    out = io.BytesIO()
    assert serve(r2, "config-get", io.BytesIO(b""), out) == 0
    assert out.getvalue().decode() == dump(shared_part(parse(Path(r2.ha_config).read_text(), "ha")))
    assert "option role" not in out.getvalue().decode() and "option vrid '51'" in out.getvalue().decode()
    before = Path(r2.ha_config).read_text()
    assert serve(r2, "config-put", io.BytesIO(b"config global 'global'\n\toption role 'primary'\n"), io.BytesIO()) == 1
    assert "ha-pair lease-peer: refused: the message carries per-node options (ha.global.role)" in capsys.readouterr().err
    assert Path(r2.ha_config).read_text() == before
