"""The notify script's records in the run directory have one reader each, with one meaning of
"unknown"; the lease sync decides for itself what an unknown DHCP state means for it."""

from __future__ import annotations

from pathlib import Path

from ha_pair import runfiles
from ha_pair.leasesync.peer import answering_dhcp
from ha_pair.paths import Paths


def test_dhcp_answering_is_yes_no_or_unknown(tmp_path: Path):
    paths = Paths(str(tmp_path))
    assert runfiles.dhcp_answering(paths) is None and answering_dhcp(paths) is True  # no record yet
    paths.run_dir.mkdir(parents=True)
    for text, seen, for_imports in (("yes\n", True, True), ("no\n", False, False), ("garbage\n", None, True),
                                    ("", None, True)):
        Path(paths.dhcp_answering).write_text(text)
        assert runfiles.dhcp_answering(paths) is seen, text
        assert answering_dhcp(paths) is for_imports, text  # unknown: never restarted for a sync


def test_node_state_and_transitions(tmp_path: Path):
    paths = Paths(str(tmp_path))
    assert runfiles.node_state(paths) == "unknown" and runfiles.transitions(paths) == []
    paths.run_dir.mkdir(parents=True)
    with open(paths.state_file, "w") as handle:
        handle.write("backup\n")
    with open(paths.transitions_log, "w") as handle:
        handle.write("100 GROUP ha BACKUP 0\nnot a line\n101.5 INSTANCE lan MASTER 150\n")
    assert runfiles.node_state(paths) == "backup"
    assert [(at, e.kind, e.name, e.state, e.priority) for at, e in runfiles.transitions(paths)] == [
        (100.0, "GROUP", "ha", "BACKUP", 0), (101.5, "INSTANCE", "lan", "MASTER", 150)]
    assert runfiles.recent_transitions(paths, 1) == ["101.5 INSTANCE lan MASTER 150"]


def test_check_results_as_the_check_helper_writes_them(tmp_path: Path):
    paths = Paths(str(tmp_path))
    assert runfiles.check_result(paths, "upstream").result == "unknown"
    Path(paths.checks_dir).mkdir(parents=True)
    with open(paths.checks_dir / "upstream", "w") as handle:
        handle.write("fail 1700000000 3\n")
    result = runfiles.check_result(paths, "upstream")
    assert (result.result, result.since, result.consecutive) == ("fail", 1700000000.0, 3)
