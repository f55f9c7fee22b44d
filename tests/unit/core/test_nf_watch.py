"""_utils/nf_watch.py: declarations, the one-spawn read, drift, and the beacon's events and
backoff; _beacons/netflow.py's validate(). The reads are real: ngctl of an ngsim host
(built from the exporter's boot script, no Salt), parsed as the beacon parses them."""
from __future__ import annotations

import copy
import json
import pathlib
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from netgraph_core import nf_model
from netgraph_core import nf_record
from netgraph_core import nf_watch
from netgraph_core import ng_snapshot
from netgraph_core import ng_words
from netgraph_core import nf_boot
from ngsim.testing import Host, load_file, ngsim

from tests.support.watched import build, read

REPO = pathlib.Path(__file__).resolve().parents[3]
PARAMS = {"interfaces": ["em0", "em1"], "collectors": [{"host": "127.0.0.1", "port": 2055}]}
OPTS = nf_watch.options({"stall_intervals": 2})


class Beacon:
    """Steps of the beacon on one host, with a clock of our own."""

    def __init__(self, host: Host, declared: dict, opts=OPTS):
        self.host, self.declared, self.opts = host, declared, opts
        self.state, self.now = None, 1000.0

    def step(self, dt: float = 10.0) -> list[dict]:
        self.now += dt
        events, self.state = nf_watch.step(self.declared, read(self.host, self.declared, self.state), self.state,
                                           self.now, self.opts)
        json.dumps(self.state)  # the state must stay plain data
        return events


@pytest.fixture
def lan(tmp_path):
    host, cfg = build(tmp_path / "h")
    return host, cfg


# ------------------------------------------------------------------ declarations
def test_declaration_round_trip_and_refusals():
    text = nf_record.declaration_text("lan", {**PARAMS, "__pub_fun": "x", "persist": True}, 12.5)
    data = json.loads(text)
    assert data["format"] == 1 and data["name"] == "lan" and "__pub_fun" not in data["params"]
    cfg = nf_record.declaration_load(text, "lan")
    assert cfg == nf_model.validate({**PARAMS, "persist": True, "name": "lan"})
    for bad, name in ((text, "wan"), ("{", "lan"), ('{"format": 2, "name": "lan", "params": {}}', "lan"),
                      (json.dumps({"format": 1, "name": "lan", "params": {"interfaces": ["em0;x"]}}), "lan")):
        with pytest.raises(ValueError):
            nf_record.declaration_load(bad, name)


def test_remember_writes_once_and_forgets(tmp_path):
    d = tmp_path / "netflow"
    assert nf_record.remember(str(d), "lan", PARAMS, 1.0) is True
    path = d / "lan.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    inode = path.stat().st_ino
    assert nf_record.remember(str(d), "lan", dict(PARAMS), 2.0) is False, "same declaration: not rewritten"
    assert path.stat().st_ino == inode
    assert nf_record.remember(str(d), "lan", {**PARAMS, "mtu": 1400}, 3.0) is True
    (d / "bad.json").write_text("{")
    (d / "not a name.json").write_text("{}")
    found, bad = nf_record.load_declarations(str(d))
    assert set(found) == {"lan"} and found["lan"]["mtu"] == 1400 and set(bad) == {"bad"}
    assert nf_record.load_declarations(str(d), ["other"]) == ({}, {})
    assert nf_record.remember(str(d), "lan", None, 4.0) is True and not path.exists()
    assert nf_record.remember(str(d), "lan", None, 5.0) is False
    with pytest.raises(ValueError):
        nf_record.remember(str(d), "../x", PARAMS, 1.0)


def test_boot_file_state(tmp_path):
    cfg = nf_model.validate({**PARAMS, "name": "lan", "persist": True})
    from netgraph_core.nf_boot import render

    good = render("lan", nf_boot.build_script(cfg))
    other = render("lan", nf_boot.build_script(nf_model.validate({**PARAMS, "name": "lan", "mtu": 1400})))
    assert nf_watch.boot_file_state("lan", good, cfg) == "matches"
    assert nf_watch.boot_file_state("lan", other, cfg) == "differs"
    assert nf_watch.boot_file_state("lan", None, cfg) == "missing"
    assert nf_watch.boot_file_state("lan", None, {**cfg, "persist": False}) is None
    assert nf_watch.boot_file_state("lan", good[:-5], cfg).startswith("corrupt: ")
    assert nf_watch.boot_file_state("lan", good, None) == "present"


# ------------------------------------------------------------------ the read
def test_snapshot_script_is_the_graph_then_read_only_messages():
    text = ng_snapshot.snapshot_script([["lan_nf:", "info"], ["lan_nf:", "ifinfo", "0"]])
    assert text == "list -l\ntypes\nmsg lan_nf: info\nmsg lan_nf: ifinfo 0\n"
    for bad in ([["lan_nf:", "settimeouts", "{", "}"]], [["lan_nf", "info"]], [["lan_nf:", "ifinfo", "0\nshutdown"]]):
        with pytest.raises(ValueError):
            ng_snapshot.snapshot_script(bad)


@pytest.mark.parametrize("word", ["", "1" * 32, "\u0663", "\u00b2", "1 2", "0\n", 7, None, "1\x00"])
def test_a_request_argument_is_refused_as_check_word_refuses_it(word):
    """Digit arguments skip check_word (2,000 a read): only those it passes, so every
    other word is still refused, with check_word's own message."""
    with pytest.raises(ValueError) as direct:
        ng_words.check_word(word, "requests[0] argument")
    with pytest.raises(ValueError) as got:
        ng_snapshot.snapshot_script([["lan_nf:", "ifinfo", word]])
    assert str(got.value) == str(direct.value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789a \u0663\u00b2\x00"), max_size=34))
def test_request_arguments_pass_exactly_when_check_word_passes_them(word):
    try:
        ng_words.check_word(word, "requests[0] argument")
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            ng_snapshot.snapshot_script([["lan_nf:", "ifinfo", word]])
    else:
        assert ng_snapshot.snapshot_script([["lan_nf:", "ifinfo", word]]).endswith(f"ifinfo {word}\n")


def test_requests_put_the_lines_that_can_fail_last(lan):
    host, cfg = lan
    first = nf_watch.requests({"lan": cfg}, None)
    assert [q[1] for q in first] == ["info", "v9info", "getpeername", "getname", "ifinfo", "ifinfo"]
    snap = read(host, {"lan": cfg})
    assert nf_watch.requests({"lan": cfg}, snap["graph"]) == first


def test_one_spawn_reads_graph_settings_and_counters(lan):
    host, cfg = lan
    ngsim("traffic", host.root, "em0", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--packets", "10", "--direction", "in")
    before = len(host.log())
    snap = read(host, {"lan": cfg})
    assert len(host.log()) == before + 1, "one ngctl spawn"
    assert {"lan_nf", "lan_v9", "em0", "em1"} <= set(snap["graph"]["nodes"])
    assert snap["settings"]["lan_v9"]["peer"] == "inet/127.0.0.1:2055"
    assert snap["raw"]["lan_nf"]["ifinfo 0"]["packets"] == 10 and "packets" not in snap["raw"]["lan_nf"]["ifinfo 1"]
    assert nf_watch.compare(cfg, snap["graph"], snap["settings"]) == []


def test_a_failing_line_leaves_the_rest_unread_not_zero(lan):
    host, cfg = lan
    reqs = nf_watch.requests({"lan": cfg}, None) + [["lan_nf:", "ifinfo", "7"], ["lan_nf:", "info"]]
    run = host.ngctl("-f", "-", stdin=ng_snapshot.snapshot_script(reqs))
    assert run.returncode != 0
    graph, replies = ng_snapshot.parse_snapshot(run.stdout, run.stderr, run.returncode, reqs)
    assert "lan_nf" in graph["nodes"]
    assert all(r["ok"] for r in replies[:6])
    assert replies[6] == {"ok": False, "error": "ngctl: send msg: Invalid argument"} and replies[7] is None
    with pytest.raises(ValueError):
        ng_snapshot.parse_snapshot("", "ngctl: line 1: error in file\n", 71, reqs)


# ------------------------------------------------------------------ drift
def kinds(items):
    return sorted((i["kind"], i.get("interface") or i.get("node")) for i in items)


def test_drift_kinds(lan):
    host, cfg = lan
    declared = {"lan": cfg}
    snap = read(host, declared)
    seen = nf_watch.attached_ids(cfg, snap["graph"], [], {})
    ngsim("ifdestroy", host.root, "em0")
    ngsim("ifcreate", host.root, "em0")
    snap2 = read(host, declared)
    drift = nf_watch.compare(cfg, snap2["graph"], snap2["settings"], seen)
    assert kinds(drift) == [("interface_recreated", "em0")]
    assert drift[0]["old_id"] == seen["em0"] != drift[0]["new_id"]
    assert kinds(nf_watch.compare(cfg, snap2["graph"], snap2["settings"])) == [("hook_cut", "em0")]
    assert nf_watch.attached_ids(cfg, snap2["graph"], drift, seen)["em0"] == seen["em0"], "keeps the last good ID"
    host.ngctl("msg", "lan_v9:", "connect", "inet/127.0.0.1:9999")
    host.ngctl("msg", "lan_nf:", "settimeouts", "{ inactive=20 active=1800 }")
    host.ngctl("rmhook", "em1:", "upper")
    snap3 = read(host, declared)
    assert kinds(nf_watch.compare(cfg, snap3["graph"], snap3["settings"], seen)) == [
        ("collector_repointed", "lan_v9"), ("hook_cut", "em1"), ("interface_recreated", "em0"),
        ("settings_changed", "lan_nf")]
    host.ngctl("shutdown", "lan_v9:")
    snap4 = read(host, declared)
    assert ("node_missing", "lan_v9") in kinds(nf_watch.compare(cfg, snap4["graph"], snap4["settings"]))
    host.ngctl("shutdown", "lan_nf:")
    snap5 = read(host, declared)
    assert nf_watch.compare(cfg, snap5["graph"], snap5["settings"]) == [
        {"kind": "node_missing", "node": "lan_nf", "type": "netflow", "interfaces": ["em0", "em1"]}]


def test_extra_hook_and_missing_interface(lan):
    host, cfg = lan
    host.ngctl("connect", "em2:", "lan_nf:", "lower", "iface5")
    ngsim("ifdestroy", host.root, "em1")
    snap = read(host, {"lan": cfg})
    assert kinds(nf_watch.compare(cfg, snap["graph"], snap["settings"])) == [
        ("extra_hook", "lan_nf"), ("interface_missing", "em1")]


# ------------------------------------------------------------------ the beacon's step
def test_quiet_when_converged_then_fires_once_with_heal_and_backs_off(lan):
    host, cfg = lan
    b = Beacon(host, {"lan": cfg})
    assert b.step() == [] and b.step() == []
    ngsim("ifdestroy", host.root, "em0")
    ngsim("ifcreate", host.root, "em0")
    [ev] = b.step()
    assert ev["tag"] == ev["exporter"] == "lan" and ev["interfaces"] == ["em0"] and ev["heal"] is True
    assert ev["drift"][0]["kind"] == "interface_recreated" and ev["health"] == "degraded"
    assert ev["attempt"] == 1 and ev["retry_in"] == 60
    assert b.step(10) == [], "same problem, inside the backoff: quiet"
    [again] = b.step(60)
    assert again["heal"] is True and again["attempt"] == 2 and again["retry_in"] == 120
    host.ngctl("rmhook", "em1:", "upper")  # a new problem inside the backoff: reported, no heal
    [new] = b.step(10)
    assert new["heal"] is False and new["retry_in"] == pytest.approx(110) and new["interfaces"] == ["em0", "em1"]
    # the heal: what exporter_present does, here the boot script's lines for em0/em1
    host.ngctl("connect", "em1:", "lan_nf:", "upper", "out1")
    host.ngctl("-f", "-", stdin="connect em0: lan_nf: lower iface0\nconnect em0: lan_nf: upper out0\n"
               "msg lan_nf: setconfig { iface=0 conf=11 }\n")
    assert b.step() == [], "quiet again after the heal"
    assert b.step() == []


def test_backoff_doubles_to_its_cap_and_starts_over(lan):
    host, cfg = lan
    b = Beacon(host, {"lan": cfg}, nf_watch.options({"heal_backoff": 10, "heal_backoff_max": 40}))
    b.step()
    host.ngctl("shutdown", "lan_v9:")
    heals = []
    for _ in range(40):
        heals += [b.now + 5 for e in b.step(5) if e["heal"]]
    gaps = [round(y - x) for x, y in zip(heals, heals[1:])]
    assert gaps[:4] == [10, 20, 40, 40], gaps
    b.now += 100  # > 2 x heal_backoff_max without a request: the streak starts over
    assert b.step(0)[0]["attempt"] == 1


def test_heal_false_never_asks(lan):
    host, cfg = lan
    b = Beacon(host, {"lan": cfg}, nf_watch.options({"heal": False}))
    b.step()
    host.ngctl("shutdown", "lan_v9:")
    [ev] = b.step()
    assert ev["heal"] is False and ev["health"] == "down"
    assert b.step(1000) == []


def test_stalled_counter_fires_once(lan):
    host, cfg = lan
    b = Beacon(host, {"lan": cfg})
    traffic = ("traffic", host.root, "em0", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--packets", "3", "--direction", "in")
    b.step()
    ngsim(*traffic)
    assert b.step() == []
    assert b.step() == []  # 1 interval without a packet
    [ev] = b.step()       # 2 = stall_intervals
    assert ev["stalled"] == ["em0"] and ev["heal"] is False and ev["interfaces"] == ["em0"]
    assert b.step() == []
    ngsim(*traffic)
    assert b.step() == [], "moving again: the stall is over, quietly"


def test_failed_exports_rising_degrade_without_heal(lan):
    host, cfg = lan
    b = Beacon(host, {"lan": cfg})
    b.step()
    snap = read(host, {"lan": cfg})
    snap["raw"]["lan_nf"]["info"] = {**snap["raw"]["lan_nf"]["info"], "V9 failed exports": 3}
    events, _ = nf_watch.step({"lan": cfg}, snap, b.state, b.now + 10, OPTS)
    assert events[0]["health"] == "degraded" and events[0]["heal"] is False
    assert "3 V9 exports failed since the last read" in events[0]["reasons"]


def test_options():
    assert nf_watch.options() == {"stall_intervals": 5, "heal_backoff": 60, "heal_backoff_max": 3600, "heal": True,
                                  "exporters": None}
    for bad in ({"stall_intervals": -1}, {"heal_backoff": 0}, {"heal_backoff": True}, {"heal": "yes"},
                {"exporters": "lan"}, {"exporters": ["a b"]}, {"colour": 1}):
        with pytest.raises(ValueError):
            nf_watch.options(bad)


# ------------------------------------------------------------------ the beacon module
@pytest.fixture(scope="module")
def beacon():
    return load_file(REPO / "_beacons" / "netflow.py", "netflow_beacon_under_test")


def test_beacon_options_table_is_nf_watch_s(beacon):
    ints = {k: v for k, v in beacon.OPTIONS.items() if isinstance(v, tuple)}
    assert ints == {k: (lo, hi) for k, (_, lo, hi) in nf_watch.OPTIONS.items()}
    assert set(beacon.OPTIONS) - set(ints) == {"heal", "exporters"}


@pytest.mark.parametrize("config", [
    [], [{"interval": 10}], [{"interval": 5}, {"disable_during_state_run": True}, {"stall_intervals": 0}],
    [{"heal": False}, {"heal_backoff": 1}, {"heal_backoff_max": 604800}, {"exporters": ["lan", "up-link_2"]}],
    [{"enabled": True}, {"_beacon_name": "netflow"}, {"beacon_module": "netflow"}, {"run_once": False}],
])
def test_beacon_validate_accepts(beacon, config):
    assert beacon.validate(config) == (True, "Valid beacon configuration")


@pytest.mark.parametrize("config, word", [
    ({"interval": 10}, "must be a list"), ("netflow", "must be a list"), ([["interval", 10]], "not a mapping"),
    ([{"colour": "red"}], "unknown option(s) colour"), ([{"stall_intervals": -1}], "stall_intervals"),
    ([{"stall_intervals": "5"}], "stall_intervals"), ([{"heal": "yes"}], "heal"), ([{"heal_backoff": True}], "heal_backoff"),
    ([{"heal_backoff_max": 0}], "heal_backoff_max"), ([{"exporters": "lan"}], "exporters"),
    ([{"exporters": ["lan;reboot"]}], "exporters"), ([{"exporters": ["x" * 26]}], "exporters"),
])
def test_beacon_validate_refuses(beacon, config, word):
    ok, why = beacon.validate(config)
    assert ok is False and word in why


def test_beacon_keeps_its_state_in_context(beacon, monkeypatch):
    calls = []

    def watch(state=None, **opts):
        calls.append((state, opts))
        return {"events": [{"tag": "lan", "exporter": "lan"}], "state": {"n": len(calls)}, "errors": {"x": "bad"}}

    monkeypatch.setattr(beacon, "__salt__", {"netflow.watch": watch}, raising=False)
    monkeypatch.setattr(beacon, "__context__", {}, raising=False)
    config = [{"interval": 5}, {"stall_intervals": 3}, {"_beacon_name": "netflow"}]
    assert beacon.beacon(config) == [{"tag": "lan", "exporter": "lan"}]
    beacon.beacon(config)
    assert calls == [({}, {"stall_intervals": 3}), ({"n": 1}, {"stall_intervals": 3})]


# ------------------------------------------------------------------ after a heal (issue 19, class 10)
def _heal_lines(cfg: dict, nodes: set) -> str:
    """What exporter_present does for the broken nodes: the boot script's lines that make
    or set them (the whole script when the netflow node itself is gone)."""
    lines = nf_boot.build_script(cfg)["ngctl"]
    if "lan_nf" not in nodes:
        lines = [ln for ln in lines if any(n in ln for n in nodes) or "export9" in ln]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("broken", [{"lan_v9"}, {"lan_nf", "lan_v9"}], ids=["collector-socket", "netflow-node"])
def test_quiet_right_after_a_heal_that_made_nodes_again(lan, broken):
    """A heal that re-creates a node (the collector's ksocket, or the netflow node and its
    socket) is read in full by the very next interval: no "down" report of a socket the
    read did not ask about because the last graph did not have it."""
    host, cfg = lan
    b = Beacon(host, {"lan": cfg})
    assert b.step() == []
    host.ngctl("shutdown", "lan_nf:" if "lan_nf" in broken else "lan_v9:")
    [ev] = b.step()
    assert ev["heal"] is True and ev["health"] == "down", ev  # positive control: the break is seen
    assert set(b.state["graph"]["nodes"]).isdisjoint(broken), "the last graph lacks the broken nodes"
    run = host.ngctl("-f", "-", stdin=_heal_lines(cfg, broken))
    assert run.returncode == 0, run.stderr
    assert b.step() == [], "quiet on the first read after the heal"
    assert b.step() == []
    assert b.state["exporters"]["lan"]["sample"]["counters"] is not None


def test_a_new_break_after_recovery_is_healed_at_once(lan):
    """The backoff is for a drift that a heal does not fix; once the exporter is seen
    healthy again, the next break asks for a heal at once (attempt 1)."""
    host, cfg = lan
    b = Beacon(host, {"lan": cfg})
    b.step()
    host.ngctl("shutdown", "lan_v9:")
    [first] = b.step()
    assert first["heal"] is True and first["attempt"] == 1
    host.ngctl("-f", "-", stdin=_heal_lines(cfg, {"lan_v9"}))
    assert b.step() == []
    host.ngctl("shutdown", "lan_v9:")  # 20 s after the first heal: well inside heal_backoff (60)
    [second] = b.step()
    assert second["heal"] is True and second["attempt"] == 1 and second["retry_in"] == 60, second
    assert b.step(10) == [], "a drift that persists still waits for the backoff"
    [third] = b.step(60)
    assert third["heal"] is True and third["attempt"] == 2


def test_a_missing_interface_is_reported_and_healed_once_it_is_back(lan):
    """A re-apply refuses an exporter whose interface does not exist, so a heal then can
    only fail and spend the backoff: reported with heal false, healed when it is back."""
    host, cfg = lan
    b = Beacon(host, {"lan": cfg})
    b.step()
    ngsim("ifdestroy", host.root, "em0")
    [gone] = b.step()
    assert gone["heal"] is False and gone["drift"][0]["kind"] == "interface_missing", gone
    ngsim("ifcreate", host.root, "em0")
    [back] = b.step(1)
    assert back["heal"] is True and back["attempt"] == 1 and back["interfaces"] == ["em0"], back


def test_beacon_heals_only_what_watch_marks_and_reports_failures(beacon, monkeypatch):
    from salt.exceptions import CommandExecutionError

    healed, outcome = [], {}

    def heal(name):
        healed.append(name)
        if isinstance(outcome.get(name), Exception):
            raise outcome[name]
        return outcome.get(name, {"result": True, "comment": "updated (2 ngctl command(s) in one batch)"})

    events = [{"tag": "lan", "exporter": "lan", "heal": True}, {"tag": "wan", "exporter": "wan", "heal": False},
              {"tag": "dmz", "exporter": "dmz", "heal": True}, {"tag": "lab", "exporter": "lab", "heal": True}]
    outcome.update(dmz=CommandExecutionError("netflow: cannot take the netflow lock: busy"),
                   lab={"result": False, "comment": "ngctl failed at line 1"})
    monkeypatch.setattr(beacon, "__salt__", {"netflow.watch": lambda state=None, **o: {"events": events, "state": {}},
                                             "netflow.heal": heal}, raising=False)
    monkeypatch.setattr(beacon, "__context__", {}, raising=False)
    out = {e["exporter"]: e for e in beacon.beacon([{"interval": 5}])}
    assert healed == ["lan", "dmz", "lab"], "only the events marked heal: true"
    assert out["lan"]["healed"] is True and out["lan"]["heal_comment"].startswith("updated")
    assert "healed" not in out["wan"]
    assert out["dmz"] == {**out["dmz"], "healed": False, "heal_comment": "netflow: cannot take the netflow lock: busy"}
    assert out["lab"]["healed"] is False and out["lab"]["heal_comment"] == "ngctl failed at line 1"


def test_an_interval_pauses_the_cycle_collector_and_restores_it():
    import gc
    seen = []
    read = lambda reqs: seen.append(gc.isenabled()) or {"graph": {"nodes": {}}, "replies": [None] * len(reqs)}  # noqa: E731
    cfg = nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [{"host": "192.0.2.1", "port": 2055}]})
    assert gc.isenabled(), "positive control: on before"
    nf_watch.run({"lan": cfg}, None, nf_watch.options({}), read, lambda: 0.0)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:  # left off by its owner: not turned on behind its back
        nf_watch.run({"lan": cfg}, None, nf_watch.options({}), read, lambda: 0.0)
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError):
        nf_watch.run({"lan": cfg}, None, nf_watch.options({}), lambda reqs: (_ for _ in ()).throw(RuntimeError("x")),
                     lambda: 0.0)
    assert gc.isenabled()


def test_the_desired_graph_is_reused_only_while_its_inputs_are_equal(tmp_path):
    two = {"interfaces": ["em0", "em1"], "collectors": [{"host": "127.0.0.1", "port": 2055},
                                                        {"host": "127.0.0.2", "port": 2056}]}
    for params, name in ((None, "lan"), (two, "fan")):
        host, cfg = build(tmp_path / name, **({"params": params} if params else {}), name=name)
        snap = read(host, {name: cfg})
        live = {**snap["graph"], "settings": snap["settings"]}
        nf_watch._DESIRED.clear()
        first = nf_watch.desired(cfg, live)
        assert first == nf_model.desired(cfg, live) and nf_watch.desired(dict(cfg), live) is first  # reused
        assert nf_watch.desired(cfg, {"nodes": {}}) == nf_model.desired(cfg, {"nodes": {}})  # other inputs
        moved = {**live, "nodes": {**live["nodes"], f"{name}_nf": {**live["nodes"][f"{name}_nf"], "hooks": {
            ("iface7" if h == "iface0" else h): p for h, p in live["nodes"][f"{name}_nf"]["hooks"].items()}}}}
        again = nf_watch.desired(cfg, moved)
        assert again is not first and again == nf_model.desired(cfg, moved) != first, "positive control: inputs matter"
        other = nf_model.validate({**(params or {"interfaces": ["em0", "em1"], "collectors": [
            {"host": "127.0.0.1", "port": 2055}]}), "name": name, "mtu": 1400})
        assert nf_watch.desired(other, live) == nf_model.desired(other, live)
    slots = {**live, "settings": {**live["settings"], "fan_v9_0": {"peer": "inet/127.0.0.2:2056"},
                                  "fan_v9_1": {"peer": "inet/127.0.0.1:2055"}}}
    assert nf_watch.desired(cfg, slots) == nf_model.desired(cfg, slots) != nf_model.desired(cfg, live)


def test_a_declaration_changed_in_place_after_the_call_is_not_taken_for_the_old_one(lan):
    host, cfg = lan
    snap = read(host, {"lan": cfg})
    live = {**snap["graph"], "settings": snap["settings"]}
    nf_watch._DESIRED.clear()
    first = nf_watch.desired(cfg, live)
    cfg["mtu"] = 1400  # the same dict, changed: its desired graph is another
    assert nf_watch.desired(cfg, live) == nf_model.desired(cfg, live) != first


# ------------------------------------------------------------------ compare's narrowed loop
def _interface_items_every_interface(cfg: dict, graph: dict, settings: dict, seen: dict) -> list[dict]:
    """compare's interface items as it made them before it narrowed its loop: every
    interface, each with its wanted hooks (the reference of the test below)."""
    want = nf_watch.desired(cfg, {**graph, "settings": settings})
    nf = nf_model.node_names(cfg["name"])["netflow"]
    by_peer: dict = {}
    for hook, wh in sorted(want["nodes"][nf]["hooks"].items()):
        by_peer.setdefault(wh["peer"], []).append((hook, wh))
    live = graph["nodes"][nf].get("hooks", {})
    return [item for iface in cfg["interfaces"]
            for item in nf_watch._interface_drift(iface, by_peer.get(iface["node"], []), live, graph, seen)]


EDITS = ("drop_hook", "repoint_peer", "repoint_peer_hook", "drop_node", "new_id", "retype")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 10 ** 6)), max_size=6))
def test_compare_looks_only_at_interfaces_with_a_cut_hook_and_finds_what_every_interface_would(wide, edits):
    """compare walks only the interfaces whose node has a wanted hook that is not as live:
    on any edit of the read graph, its interface items are those of the loop over every
    interface (positive control: an edit that cuts a hook is found)."""
    cfg, snap, seen = wide
    graph = copy.deepcopy(snap["graph"])
    nf = graph["nodes"]["lan_nf"]
    for what, pick in edits:
        hooks = sorted(nf["hooks"])
        hook = hooks[pick % len(hooks)] if hooks else None
        ether = sorted(k for k, n in graph["nodes"].items() if n["type"] == "ether")
        node = ether[pick % len(ether)] if ether else None
        if what == "drop_hook" and hook:
            del nf["hooks"][hook]
        elif what == "repoint_peer" and hook:
            nf["hooks"][hook] = {**nf["hooks"][hook], "peer": node or "em9"}
        elif what == "repoint_peer_hook" and hook:
            nf["hooks"][hook] = {**nf["hooks"][hook], "peer_hook": ("upper", "lower", "orphans")[pick % 3]}
        elif what == "drop_node" and node:
            del graph["nodes"][node]
        elif what == "new_id" and node:
            graph["nodes"][node] = {**graph["nodes"][node], "id": graph["nodes"][node]["id"] + 1000}
        elif what == "retype" and node:
            graph["nodes"][node] = {**graph["nodes"][node], "type": "eiface"}
    got = [i for i in nf_watch.compare(cfg, graph, snap["settings"], seen) if "interface" in i]
    assert got == _interface_items_every_interface(cfg, graph, snap["settings"], seen)


def test_compare_finds_a_cut_interface_hook(wide):
    """The positive control of the test above: a cut hook of em3 is em3's drift alone."""
    cfg, snap, seen = wide
    graph = copy.deepcopy(snap["graph"])
    cut = next(h for h, p in graph["nodes"]["lan_nf"]["hooks"].items() if p["peer"] == "em3")
    del graph["nodes"]["lan_nf"]["hooks"][cut]
    got = [i for i in nf_watch.compare(cfg, graph, snap["settings"], seen) if "interface" in i]
    assert [(i["kind"], i["interface"]) for i in got] == [("hook_cut", "em3")]
    assert got == _interface_items_every_interface(cfg, graph, snap["settings"], seen)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """An exporter of 6 interfaces, converged, read once, and the IDs it saw attached."""
    ifaces = [f"em{i}" for i in range(6)]
    host, cfg = build(tmp_path_factory.mktemp("wide") / "h", {**PARAMS, "interfaces": ifaces}, ifaces=ifaces)
    snap = read(host, {"lan": cfg})
    assert nf_watch.compare(cfg, snap["graph"], snap["settings"]) == [], "converged: no drift to start from"
    return cfg, snap, nf_watch.attached_ids(cfg, snap["graph"], [], {})
