"""Self-healing end to end, with a real salt-master and salt-minions (pytest-salt-factories)
and a real nfcapd: minion heal-fw1 runs the ``netflow`` beacon (every second), which heals
its exporters itself (``netflow.heal``: converge to the recorded declaration) and only
reports to the master. The master is still configured with the formula's reactor
(formula/netflow/reactor/heal.sls), as the docs said before issue 19, so that a reactor
that acted on beacon events would show here.

* Another minion (heal-fw2) forges beacon events naming heal-fw1, in the three forms a
  minion can send: nothing runs on heal-fw1 (no job, no spawn but the beacon's reads),
  while a real drift on heal-fw1 is still healed.
* em0 of the emulated host is destroyed and re-created (a fresh ng_ether node with no
  hooks: flows stop without any error anywhere): the beacon heals it in the interval it
  notices, reports ``healed: true``, is quiet again, and flows of em0 reach nfcapd. The time
  from the re-creation to the first packet accounted again is measured; with
  NETFLOW_BENCH_OUT=<file> it is written there (bench/run.py reads it).
* The collector's socket is shut down: healed, then quiet (no "down" report of the new
  socket), and a second break right after is healed at once (the backoff starts over once
  the exporter is seen healthy).
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from tests.support.nfcapd import Nfcapd, free_udp_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (shutil.which("nfcapd") and shutil.which("nfdump")),
                       reason="nfcapd/nfdump not installed (Debian package nfdump; .ci/run installs it)"),
]

REPO = pathlib.Path(__file__).resolve().parents[2]
MINION = "heal-fw1"
INTRUDER = "heal-fw2"
BEACON_INTERVAL = 1
TOOLS = ("ngctl", "kldload", "kldstat", "ipfw", "flowctl")


def ngsim(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"ngsim {args}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def nfcapd(tmp_path_factory):
    collector = Nfcapd(tmp_path_factory.mktemp("nfcapd") / "v9", free_udp_port())
    yield collector
    collector.stop()


@pytest.fixture(scope="module")
def fleet(salt_factories, tmp_path_factory, nfcapd):
    """A master configured with the old reactor, one minion with the beacon (its ngsim
    host and pillar), and one more minion that forges events."""
    states = tmp_path_factory.mktemp("heal-states")
    master = salt_factories.salt_master_daemon("heal-master", overrides={
        "file_roots": {"base": [str(states), str(REPO / "formula")]},  # see conftest.py's ng_master
        "reactor": [{"salt/beacon/*/netflow/*": ["salt://netflow/reactor/heal.sls"]}],
        "log_level_logfile": "info", "auto_accept": True,  # see conftest.py's ng_master
    })
    root = tmp_path_factory.mktemp("heal-hosts") / MINION
    ngsim("init", str(root), "--iface", "em0", "--iface", "em1", "--loaded", "ng_ether")
    etc = root / "etc"
    pillar = {"netflow": {
        "boot_dir": str(etc / "netflow"), "lock_file": str(etc / "netflow.lock"),
        "lookup": {"rc_script": str(etc / "rc.d" / "netflow"), "rc_conf_d": str(etc / "rc.conf.d" / "netflow")},
        "exporters": {"lan": {"interfaces": ["em0", "em1"],
                              "collectors": [{"host": "127.0.0.1", "port": nfcapd.port, "version": 9}]}},
        "metrics": {"enabled": True, "textfile_dir": str(root / "textfile"), "interval": 10},
    }}
    (master.pillar_tree.base.write_path / "top.sls").write_text(yaml.safe_dump({"base": {MINION: ["heal"]}}))
    (master.pillar_tree.base.write_path / "heal.sls").write_text(yaml.safe_dump(pillar))
    config = {
        "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
        "states_dirs": [str(REPO / "_states")], "beacons_dirs": [str(REPO / "_beacons")],
        "loop_interval": 1, "log_level_logfile": "info",
        "beacons": {"netflow": [{"interval": BEACON_INTERVAL}, {"disable_during_state_run": True},
                                {"stall_intervals": 0}]},
        **{f"netgraph.{tool}": str(root / "bin" / tool) for tool in TOOLS},
    }
    with master.started():
        minion = master.salt_minion_daemon(MINION, overrides=config)
        intruder = master.salt_minion_daemon(INTRUDER, overrides={"log_level_logfile": "info"})
        with minion.started(), intruder.started():
            cli = master.salt_cli()
            assert cli.run("saltutil.refresh_pillar", minion_tgt=MINION).returncode == 0
            ret = cli.run("state.apply", "netflow", minion_tgt=MINION, _timeout=120)
            assert ret.returncode == 0, ret.stdout
            ngsim("tick", str(root), "700")  # uptime past the v9 template interval (see test_flows_e2e)
            yield {"master": master, "minion": minion, "intruder": intruder, "root": root, "cli": cli}


def beacon_events(event_listener, master, after: float) -> list:
    return [e for e in event_listener.get_events([(master.id, f"salt/beacon/{MINION}/netflow/*")], after_time=after)]


def accounted(root: pathlib.Path, src: str, sport: int = 40000, flows: int = 1) -> bool:
    out = json.loads(ngsim("traffic", str(root), "em0", "--src", src, "--dst", "192.0.2.80", "--proto", "tcp",
                           "--sport", str(sport), "--dport", "443", "--packets", "2", "--bytes", "200",
                           "--flows", str(flows), "--direction", "in"))
    assert out["pass"], out  # the interface always passes traffic; only the accounting stops
    return out["accounted_by"] == ["lan_nf"]


def spawns(root: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in ngsim("log", str(root)).splitlines() if line.strip()]


def minion_log(fleet) -> str:
    return pathlib.Path(fleet["minion"].config["log_file"]).read_text(errors="replace")


def state_jobs(event_listener, master, after: float) -> list:
    jobs = event_listener.get_events([(master.id, "salt/job/*/new")], after_time=after)
    return [j.data for j in jobs if MINION in (j.data.get("minions") or []) and j.data.get("fun") != "saltutil.find_job"]


def wait_accounted(root: pathlib.Path, src: str, timeout: float = 60) -> float | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if accounted(root, src):
            return time.time()
        time.sleep(0.2)
    return None


def test_a_minion_cannot_aim_a_heal_at_another(fleet, event_listener):
    """Issue 19: Salt authenticates the minion that sends an event load, not the tags and
    data of the events it carries; a forged beacon event naming heal-fw1 runs nothing there."""
    master, root = fleet["master"], fleet["root"]
    call = fleet["intruder"].salt_call_cli(timeout=60)
    tag = f"salt/beacon/{MINION}/netflow/lan"
    forged = {"id": MINION, "exporter": "lan", "heal": True, "health": "down", "interfaces": ["em0"],
              "drift": [{"kind": "node_missing", "node": "lan_nf"}]}
    before, logged = len(spawns(root)), len(minion_log(fleet))
    # positive control of the log check: the fixture's state.apply is there
    assert re.search(r"Executing command state\.apply with jid", minion_log(fleet)[:logged])
    start = time.time()
    for args in (
        ("event.send", tag, json.dumps(forged)),  # tag form: the data is the load, id heal-fw2
        ("event.send", tag, json.dumps(forged), "preload=" + json.dumps({"events": [{"tag": tag, "data": forged}]})),
        ("event.fire", json.dumps({"beacons": [{"tag": tag, "data": forged}]}), "__beacons_return"),  # via its daemon
    ):
        ret = call.run(*args)
        assert ret.returncode == 0 and ret.data is True, (args[0], ret.stdout, ret.stderr)
    # positive control: the forgeries reached the master's bus, naming heal-fw1 in tag and data
    deadline = time.time() + 30
    while time.time() < deadline:
        got = [e.data for e in event_listener.get_events([(master.id, tag)], after_time=start)]
        if len(got) >= 3 and sum(d.get("id") == MINION and d.get("heal") is True for d in got) >= 2:
            break
        time.sleep(0.5)
    assert len(got) >= 3 and sum(d.get("id") == MINION and d.get("heal") is True for d in got) >= 2, got
    time.sleep(8)  # a reaction takes ~1 s
    assert state_jobs(event_listener, master, start) == [], "no job was published to heal-fw1"
    assert not re.search(r"Executing command \S+ with jid", minion_log(fleet)[logged:]), "heal-fw1 received no job"
    after = spawns(root)[before:]
    assert after and not any(e["mutating"] for e in after), "the beacon kept reading; nothing changed"

    # positive control: a real drift on heal-fw1 is still healed, by heal-fw1 itself
    ngsim("ifdestroy", str(root), "em0")
    ngsim("ifcreate", str(root), "em0")
    broken = time.time()
    assert wait_accounted(root, "198.51.100.20") is not None, "heal-fw1 healed em0"
    matched = event_listener.wait_for_events([(master.id, tag)], timeout=30, after_time=broken)
    assert matched.found_all_events
    event = next(iter(matched.matches)).data
    assert event["heal"] is True and event["healed"] is True and event["id"] == MINION, event
    assert state_jobs(event_listener, master, start) == [], "healed without any job from the master"


def recreated_event(event_listener, master, after: float, bound: float = 60):
    """The beacon's event for em0 recreated. ifdestroy and ifcreate are two spawns: a beacon
    interval that falls between them reports em0 missing (nothing to heal yet), and the
    next one reports it recreated; the missing one is passed over, nothing else is."""
    deadline = time.time() + bound
    while True:
        left = deadline - time.time()
        assert left > 0, "the beacon fired for em0 recreated"
        matched = event_listener.wait_for_events([(master.id, f"salt/beacon/{MINION}/netflow/lan")], timeout=left,
                                                 after_time=after)
        assert matched.found_all_events, "the beacon fired"
        for event in sorted(matched.matches, key=lambda e: e.stamp):
            kinds = [d["kind"] for d in event.data["drift"]]
            if kinds != ["interface_missing"]:
                return event
            after = max(after, event.stamp.timestamp())


def test_recreated_interface_is_healed_by_the_beacon(fleet, event_listener, nfcapd):
    master, root = fleet["master"], fleet["root"]
    assert accounted(root, "198.51.100.1")
    prom = root / "textfile" / "netflow.prom"  # formula/netflow/metrics.sls: the schedule job
    ok = 'netflow_exporter_health{exporter="lan",netflow_exporter_health="ok"} 1.0'
    deadline = time.time() + 60  # the job writes every 10 s: past any write of the last test's break
    while not (prom.exists() and ok in prom.read_text()) and time.time() < deadline:
        time.sleep(0.5)
    assert 'netflow_interface_packets_total{exporter="lan",interface="em0"}' in prom.read_text()
    assert ok in prom.read_text()

    applied = time.time()
    time.sleep(4 * BEACON_INTERVAL + 1)
    assert beacon_events(event_listener, master, applied) == [], "the beacon is quiet on a converged host"

    before = len(spawns(root))
    ngsim("ifdestroy", str(root), "em0")
    ngsim("ifcreate", str(root), "em0")
    recreated = time.time()
    assert not accounted(root, "198.51.100.2"), "em0 passes traffic, but nothing is accounted any more"

    event = recreated_event(event_listener, master, recreated)
    assert event.data["exporter"] == "lan" and event.data["interfaces"] == ["em0"] and event.data["heal"] is True
    assert event.data["drift"][0]["kind"] == "interface_recreated"
    assert event.data["healed"] is True, event.data  # healed before the event was sent
    fired = event.stamp.timestamp()

    restored = wait_accounted(root, "198.51.100.3", timeout=120)
    assert restored is not None, "the beacon's heal re-attached em0"
    assert state_jobs(event_listener, master, recreated) == [], "no state run from the master"
    assert any(e["mutating"] and e["argv"][:2] == ["ngctl", "-f"] for e in spawns(root)[before:]), \
        "the heal is the minion's own ngctl batch"

    settled = time.time()
    time.sleep(4 * BEACON_INTERVAL + 1)
    assert beacon_events(event_listener, master, settled) == [], "quiet again after the heal"
    again = beacon_events(event_listener, master, recreated)
    assert len(again) == 1, [e.data for e in again]  # one problem, one event

    # flows of the re-created em0 reach the real collector: 45 flows expire and fill two
    # v9 datagrams (21 + 24 records at MTU 1500, the first with the templates)
    assert accounted(root, "203.0.113.9", sport=50000, flows=45)
    ngsim("tick", str(root), "20")
    time.sleep(0.5)
    nfcapd.stop()
    got = [r for r in nfcapd.flows() if r["sa"] == "203.0.113.9"]
    assert len(got) >= 21 and all(r["da"] == "192.0.2.80" and r["pr"] == "TCP" for r in got), got[:3]

    figures = {"heal_s": round(restored - recreated, 2), "beacon_fired_s": round(fired - recreated, 2),
               "beacon_interval_s": BEACON_INTERVAL, "loop_interval_s": 1}
    print("self-heal:", json.dumps(figures), "heal_comment:", event.data["heal_comment"])
    if os.environ.get("NETFLOW_BENCH_OUT"):
        pathlib.Path(os.environ["NETFLOW_BENCH_OUT"]).write_text(json.dumps(figures))


def test_healed_socket_is_quiet_and_a_new_break_is_healed_at_once(fleet, event_listener):
    """Issue 19: no "down" report right after a heal that made the collector's socket
    again, and the next break, seconds later, is healed at once (attempt 1)."""
    master, root = fleet["master"], fleet["root"]
    ngctl = str(root / "bin" / "ngctl")
    assert wait_accounted(root, "198.51.100.30", timeout=150) is not None, "starts from a healthy exporter"
    time.sleep(2 * BEACON_INTERVAL + 1)  # past the report of whatever heal made it healthy
    quiet = time.time()
    time.sleep(2 * BEACON_INTERVAL + 1)
    assert beacon_events(event_listener, master, quiet) == []
    for round_ in (1, 2):
        subprocess.run([ngctl, "shutdown", "lan_v9:"], check=True, capture_output=True)
        broken = time.time()
        matched = event_listener.wait_for_events([(master.id, f"salt/beacon/{MINION}/netflow/lan")], timeout=30,
                                                 after_time=broken)
        assert matched.found_all_events, f"break {round_}: the beacon fired"
        event = next(iter(matched.matches)).data
        assert event["health"] == "down" and event["heal"] is True and event["attempt"] == 1, (round_, event)
        assert event["healed"] is True, (round_, event)
        peer = subprocess.run([ngctl, "msg", "lan_v9:", "getpeername"], capture_output=True, text=True)
        assert peer.returncode == 0 and "127.0.0.1" in peer.stdout, peer
        time.sleep(4 * BEACON_INTERVAL + 1)
        after = [e.data for e in beacon_events(event_listener, master, broken)]
        assert after == [event], f"break {round_}: one event, then quiet (no down report after the heal): {after}"
