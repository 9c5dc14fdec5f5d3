"""ha-pair installed, configured, upgraded and removed on a live router, with the real opkg (24.10)
or apk-tools (25.12) running the package's scripts and OpenWrt's procd (PID 1 of a lab router,
tests/package/router.py) starting and stopping the services.

The router starts as an OpenWrt image with keepalived and conntrackd installed (24.10's
keepalived service then runs an idle keepalived, as on a real 24.10), and someone's own
/etc/conntrackd/conntrackd.conf with OpenWrt's conntrackd service running it. Then, as an
operator would: install ha-pair and luci-app-ha from copied package files with README's command
(`opkg update && opkg install ...` / `apk update && apk add ...`, the dependencies coming from
the router's feed); configure the pair;
upgrade ha-pair (after changing /etc/config/ha, to a build whose shipped /etc/config/ha differs);
upgrade keepalived and conntrackd; remove ha-pair. Every step is observed (tests/package/sequences).
"""

from __future__ import annotations

import pytest

from tests.package import build
from tests.package import sequences as seq
from tests.package.conftest import Packages
from tests.lab.router import Router
from tests.package.router import DIED, PACKAGE_DIR, ROUTER, between, booted_router, daemons, deaths, events, settle
from tests.support import pair
from tests.support.syslog import errors

KA_INERT = "/usr/share/ha-pair/openwrt-keepalived.conf"


def running(step: seq.Step, service: str) -> list[int]:
    """Running instances of `service` (OpenWrt's own keepalived or conntrackd service)."""
    return [i.get("pid") for i in step.services.get(service, {}).get("instances", {}).values() if i.get("running")]


def openwrt_service_stopped(router: Router, service: str) -> bool:
    instances = router.services().get(service, {}).get("instances", {})
    return not any(i.get("running") for i in instances.values())


@pytest.fixture(scope="session")
def live(packages: Packages, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the sequence once per release; every test below reads what it observed."""
    scratch = tmp_path_factory.mktemp(f"live-{packages.release.series}")
    steps: dict[str, seq.Step] = {}
    with booted_router(packages, scratch, with_ha_pair=False) as router:
        router.sh(f"cat > /etc/conntrackd/conntrackd.conf <<'EOF'\n{seq.USER_CONNTRACKD_CONF}EOF\n"
                  "/etc/init.d/conntrackd start")
        seq.wait_for(lambda: daemons(router, "conntrackd"))
        steps["before"] = seq.observe(router, "before")

        # README's command, with the packages copied to /tmp as its scp line does
        done = seq.run(router, f"cp {PACKAGE_DIR}/current/* /tmp/ && {seq.readme_install_command(packages)}")
        seq.wait_for(lambda: openwrt_service_stopped(router, "keepalived") and not daemons(router, "keepalived"))
        steps["install"] = seq.observe(router, "install", done.returncode, done.stdout + done.stderr)
        check = seq.run(router, "ha-pair check --no-keepalived-test")
        steps["install"].out += f"\n$ ha-pair check: {check.returncode}\n{check.stdout}{check.stderr}"
        steps["install"].rc = steps["install"].rc or check.returncode
        # what follows starts after OpenWrt's boot, its dnsmasq race included (router.py: deaths)
        settle(router)

        # the operator configures the pair (what `uci commit ha` + reload_config does)
        done = seq.run(router, f"cat > /etc/config/ha <<'EOF'\n{pair.ha(ROUTER)}EOF\n/etc/init.d/ha-pair reload")
        seq.wait_for(lambda: daemons(router, "keepalived") and daemons(router, "conntrackd"))
        steps["configured"] = seq.observe(router, "configured", done.returncode, done.stdout + done.stderr)

        done = seq.run(router, seq.install_command(packages, "upgrade", ["ha-pair", "luci-app-ha"]))
        steps["upgrade"] = seq.observe(router, "upgrade", done.returncode, done.stdout + done.stderr)
        expected_bytecode = steps["upgrade"].expected_bytecode(router.root)

        for name in ("keepalived", "conntrackd"):
            done = seq.run(router, seq.install_command(packages, "standins-upgrade", [name]))
            # 24.10's keepalived service starts on its upgrade and stops itself (see openwrt-services)
            seq.wait_for(lambda: openwrt_service_stopped(router, name) and len(daemons(router, name)) == 1)
            steps[f"{name}-upgrade"] = seq.observe(router, f"{name}-upgrade", done.returncode,
                                                   done.stdout + done.stderr)

        done = seq.run(router, seq.remove_command(packages, ["luci-app-ha", "ha-pair"]))

        def settled() -> bool:  # ha-pair's daemons gone, OpenWrt's services running what they run
            services = router.services()
            return all(daemons(router, name) == [i["pid"] for i in services.get(name, {}).get("instances", {}).values()
                                                 if i.get("running")] for name in ("keepalived", "conntrackd"))

        seq.wait_for(settled)
        steps["remove"] = seq.observe(router, "remove", done.returncode, done.stdout + done.stderr)
        recorded = events(router)
    return {"steps": steps, "events": recorded, "packages": packages, "expected_bytecode": expected_bytecode}


def test_install_enables_ha_pair_and_takes_openwrts_services_out(live: dict) -> None:
    before, step = live["steps"]["before"], live["steps"]["install"]
    assert step.rc == 0, step.out
    assert {"S18ha-pair", "K10ha-pair"} <= set(step.rc_d)
    # before: OpenWrt's conntrackd service ran someone's conntrackd.conf (and on 24.10 its keepalived
    # service an idle keepalived); after: neither runs anything, and the conf waits to be given back
    assert running(before, "conntrackd") and before.conntrackd
    assert running(step, "keepalived") == [] and step.keepalived == []
    assert running(step, "conntrackd") == [] and step.conntrackd == []
    assert step.files["/etc/conntrackd/conntrackd.conf"] is None
    assert step.files["/etc/conntrackd/conntrackd.conf.ha-pair"] == seq.USER_CONNTRACKD_CONF.encode()
    # keepalived's own switches, in uci's state layer: its configuration file stays as it was
    assert "keepalived.globals.enabled='0'" in step.keepalived_uci
    assert f"keepalived.globals.alt_config_file='{KA_INERT}'" in step.keepalived_uci
    assert step.files["/etc/config/keepalived"] == before.files["/etc/config/keepalived"]
    assert step.modes["/etc/ha-pair"] == 0o700


def test_shipped_configuration_is_valid_on_a_fresh_router(live: dict) -> None:
    step = live["steps"]["install"]
    assert "$ ha-pair check: 0" in step.out, step.out
    assert "invalid" not in step.out
    assert errors(step.log) == []


def test_exactly_one_keepalived_and_one_conntrackd_ha_pairs(live: dict) -> None:
    for name in ("configured", "upgrade", "keepalived-upgrade", "conntrackd-upgrade"):
        step = live["steps"][name]
        assert step.rc == 0, (name, step.out)
        keepalived = step.instance_pids("ha-pair", "keepalived")
        conntrackd = step.instance_pids("ha-pair", "conntrackd-run")
        assert len(keepalived) == 1 and step.keepalived == keepalived, (name, step.services, step.keepalived)
        assert len(conntrackd) == 1 and step.conntrackd == conntrackd, (name, step.services, step.conntrackd)
        assert running(step, "keepalived") == [] and running(step, "conntrackd") == [], (name, step.services)
    # nothing died by itself (procd respawned it: a crash loop is not "inert"), but for OpenWrt's
    # own race at boot (tests/package/router.py: deaths)
    events = live["events"]
    died = deaths(events)
    # with what procd did just before each (from the step mark before it): for the failure's message
    context = [events[max((j for j in range(i) if events[j]["event"] == "lab.step"), default=0):i + 1] for i in died]
    assert died == [], context
    # dnsmasq runs at every step; the steps before the boot settled may find it waiting out its
    # respawn after that race
    for name, step in live["steps"].items():
        booting = name in ("before", "install")
        instances = step.services.get("dnsmasq", {}).get("instances", {}).values()
        assert instances and all(i.get("running") or booting and i.get("exit_code") == 129 for i in instances), \
            (name, instances)


def test_upgrade_keeps_the_pair_running_and_its_dhcp_settings(live: dict) -> None:
    configured, step = live["steps"]["configured"], live["steps"]["upgrade"]
    assert configured.dhcp != live["steps"]["install"].dhcp, "the configured pair manages DHCP"
    assert step.rc == 0, step.out
    assert step.services["ha-pair"] == configured.services["ha-pair"], "instances restarted or stopped"
    stopped = [e for e in between(live["events"], "configured", "upgrade") if e.get("service") == "ha-pair"
               and e["event"] in ("instance.stop", *DIED)]
    assert stopped == [], stopped
    assert step.dhcp == configured.dhcp


def test_upgrade_keeps_the_users_configuration_and_state_directory(live: dict) -> None:
    configured, step = live["steps"]["configured"], live["steps"]["upgrade"]
    assert step.files["/etc/config/ha"] == configured.files["/etc/config/ha"]
    new_default = step.files["/etc/config/ha.apk-new"] or step.files["/etc/config/ha-opkg"]
    assert new_default is not None and new_default.endswith(build.UPGRADE_CONFFILE_LINE.encode())
    assert step.modes["/etc/ha-pair"] == 0o700


def test_bytecode_is_compiled_on_install_and_upgrade_only(live: dict) -> None:
    """/etc/uci-defaults/ha-pair compiles every module once; running ha-pair (the agent, render,
    keepalived's notify) never writes any; removal leaves none."""
    steps = live["steps"]
    assert steps["before"].pycache == {}
    for compiled, later in (("install", ("configured",)), ("upgrade", ("keepalived-upgrade", "conntrackd-upgrade"))):
        assert set(steps[compiled].pycache) == live["expected_bytecode"], compiled
        for name in later:
            assert steps[name].pycache == steps[compiled].pycache, name
    assert steps["remove"].pycache == {}


def test_removal_gives_everything_back_and_leaves_nothing(live: dict) -> None:
    before, step = live["steps"]["before"], live["steps"]["remove"]
    assert step.rc == 0, step.out
    assert "ha-pair" not in step.services
    assert step.dhcp == before.dhcp  # ha-pair unapply (its layout is libuci's)
    for path in ("/etc/config/keepalived", "/etc/conntrackd/conntrackd.conf"):
        assert step.files[path] == before.files[path], path
    assert step.rc_d == before.rc_d
    # OpenWrt's services run again what they ran before
    assert len(running(step, "conntrackd")) == len(running(before, "conntrackd")) == 1
    assert len(running(step, "keepalived")) == len(running(before, "keepalived"))
    assert step.conntrackd == running(step, "conntrackd") and step.keepalived == running(step, "keepalived")
    # nothing of the package is left but the configuration the operator changed (and the new
    # default the upgrade put beside it)
    def changes(first: seq.Step, second: seq.Step) -> set[str]:
        return {path for path in set(first.listing) | set(second.listing)
                if first.listing.get(path) != second.listing.get(path)}

    # what the keepalived and conntrackd upgrades themselves changed is theirs, not ha-pair's
    theirs = changes(live["steps"]["upgrade"], live["steps"]["conntrackd-upgrade"])
    left = changes(before, step) - theirs
    assert left <= {"/etc/config/ha", "/etc/config/ha-opkg", "/etc/config/ha.apk-new"}, sorted(left)
    assert "/etc/config/ha" in left and step.files["/etc/config/ha"] == live["steps"]["configured"].files["/etc/config/ha"]
