"""Functional tests of netflow.exporter_present/absent through Salt's own loader, against an
emulated FreeBSD host (ngsim). Nothing is mocked: Salt loads _modules/netgraph.py,
_modules/netflow.py and _states/netflow.py, and every ngctl is a real ngsim subprocess.
"""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import pytest

from ngsim.testing import script_lines

REPO = pathlib.Path(__file__).resolve().parents[3]
IFACES = ["em0", "em1", "vlan0.100", "tun0"]
C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}
C5 = {"host": "192.0.2.12", "port": 9995, "version": 5}


from tests.support import nghost as _conf  # noqa: E402 - after REPO, as before
ngsim = _conf.run_ngsim


class Host(_conf.NgHost):
    """The functional conftest's host, with the four interfaces used here and a log mark:
    ``mutating()``/``ngctl_spawns()`` count only what happened since ``mark()``."""

    def init(self, loaded=("ng_ether",)) -> "Host":
        super().init(ifaces=IFACES, loaded=loaded)
        self.mark()
        return self

    def ngctl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return super().ngctl(*args, stdin=stdin, check=False)

    def _log_lines(self) -> list[str]:
        # ngsim's invocation log (ROOT/log.jsonl, one JSON object a line; `ngsim log` prints
        # the same), read directly: hundreds of cases would otherwise spawn `ngsim log` twice each.
        try:
            with open(self.root / "log.jsonl", encoding="utf-8") as fh:
                return [line for line in fh if line.strip()]
        except FileNotFoundError:
            return []

    def mark(self) -> None:
        self._mark = len(self._log_lines())

    def since(self) -> list[dict]:
        return [json.loads(line) for line in self._log_lines()[self._mark:]]

    def mutating(self) -> list[dict]:
        return [e for e in self.since() if e["mutating"]]

    def ngctl_spawns(self) -> list[dict]:
        return [e for e in self.since() if e.get("binary", e["argv"][0].rsplit("/", 1)[-1]) == "ngctl"]

    def links(self) -> dict:
        return json.loads(ngsim("links", str(self.root)))


host_root, loaders = _conf.netflow_fixtures("nf", Host, inprocess=True)


@pytest.fixture
def host(host_root, loaders) -> Host:
    h = Host(host_root)
    h.init()
    loaders.reset_state()
    yield h


def present(loaders, name="lan", test=False, **params):
    params.setdefault("interfaces", ["em0"])
    params.setdefault("collectors", [C1])
    return loaders.states.netflow.exporter_present(name=name, test=test, **params)


@pytest.fixture(params=[False, True], ids=["apply", "test"])
def test_mode(request):
    return request.param


# ------------------------------------------------------------------------ basic contract
def test_create_then_no_change(loaders, host, test_mode):
    ret = present(loaders, test=test_mode, interfaces=["em0", "vlan0.100"], collectors=[C1, C5])
    if test_mode:
        assert ret.result is None
        assert "mkpeer em0: netflow lower iface0" in ret.changes["ngctl"]
        assert host.mutating() == [], "test=True must not change anything"
        return
    assert ret.result is True, ret.comment
    assert ret.changes["exporter"] == "created" and ret.comment.startswith("Exporter lan created (")
    assert ret.changes["collectors"] == ["192.0.2.10:2055 v9 added", "192.0.2.12:9995 v5 added"]
    muts = host.mutating()
    assert len(muts) == 1 and muts[0]["argv"][1] == "-f" and muts[0]["argv"][2] != "-", "one ngctl -f FILE batch"
    assert host.links() == {"em0": "pass", "em1": "pass", "vlan0.100": "pass", "tun0": "pass"}
    show = host.ngctl("show", "lan_nf:").stdout
    assert "iface1          vlan0_100       ether" in show and "export9" in show and "export " in show
    host.mark()
    again = present(loaders, interfaces=["em0", "vlan0.100"], collectors=[C1, C5])
    assert again.result is True and again.changes == {}
    assert host.mutating() == []
    reads = host.ngctl_spawns()
    assert len(reads) == 1 and reads[0]["argv"][1:] == ["-f", "-"], "graph and settings in one read"
    assert "msg lan_nf: ifinfo 1" in reads[0]["stdin"] and "msg lan_v5: getpeername" in reads[0]["stdin"]


def test_collector_timeouts_direction_change_keeps_the_netflow_node(loaders, host):
    assert present(loaders, interfaces=["em0", "em1"], collectors=[C1]).result is True
    nf_id = host.ngctl("show", "lan_nf:").stdout.split("ID: ")[1].split()[0]
    host.mark()
    ret = present(
        loaders,
        interfaces={"em0": {"direction": "ingress"}, "em1": None},
        collectors=[C2],
        timeouts={"active": 60, "inactive": 10},
    )
    assert ret.result is True, ret.comment
    assert not any(c.startswith("shutdown lan_nf") for c in ret.changes["ngctl"])
    assert host.ngctl("show", "lan_nf:").stdout.split("ID: ")[1].split()[0] == nf_id
    assert "inet/192.0.2.11:2055" in host.ngctl("msg", "lan_v9:", "getpeername").stdout
    assert "Inactive timeout=10 Active timeout=60" in host.ngctl("msg", "lan_nf:", "info").stdout
    assert len([m for m in host.mutating()]) == 1


def test_exporter_absent_restores_the_interfaces(loaders, host, test_mode):
    assert present(loaders, interfaces=["em0", "em1"], collectors=[C1, C2]).result is True
    host.mark()
    ret = loaders.states.netflow.exporter_absent(name="lan", test=test_mode)
    if test_mode:
        assert ret.result is None and host.mutating() == []
        return
    assert ret.result is True, ret.comment
    assert "lan_" not in host.ngctl("list").stdout
    assert set(host.links().values()) == {"pass"}
    assert loaders.states.netflow.exporter_absent(name="lan").changes == {}


def test_two_exporters_on_one_host(loaders, host):
    assert present(loaders, name="a", interfaces=["em0"], collectors=[C1]).result is True
    assert present(loaders, name="b", interfaces=["em1"], collectors=[C2]).result is True
    assert present(loaders, name="a", interfaces=["em0"], collectors=[C1]).changes == {}
    assert present(loaders, name="b", interfaces=["em1"], collectors=[C2]).changes == {}


def test_ipfw_attach_for_a_non_ethernet_interface(loaders, host):
    host.init(loaded=("ng_ether", "ipfw", "ng_ipfw"))
    ifs = {"tun0": {"attach": "ipfw", "ipfw_hook": 1000}}
    ret = present(loaders, interfaces=ifs, collectors=[C1])
    assert ret.result is True, ret.comment
    rules = subprocess.run([str(host.root / "bin" / "ipfw"), "list"], capture_output=True, text=True).stdout
    assert "ngtee 1000 ip from any to any via tun0" in rules
    assert present(loaders, interfaces=ifs, collectors=[C1]).changes == {}
    assert loaders.states.netflow.exporter_absent(name="lan").result is True
    rules = subprocess.run([str(host.root / "bin" / "ipfw"), "list"], capture_output=True, text=True).stdout
    assert "ngtee 1000" not in rules


def test_modules_are_loaded_on_a_fresh_boot(loaders, host):
    host.init(loaded=())
    ret = present(loaders, interfaces=["em0"], collectors=[C1])
    assert ret.result is True, ret.comment
    assert present(loaders).changes == {}


def test_non_ethernet_interface_without_ipfw_is_refused(loaders, host):
    ret = present(loaders, interfaces=["tun0"], collectors=[C1])
    assert ret.result is False and "tun0" in ret.comment and "attach: ipfw" in ret.comment
    assert host.mutating() == []


# ------------------------------------------------------------------------ persistence
def test_persist_writes_boot_files_that_rebuild_the_graph(loaders, host, tmp_path):
    ret = present(loaders, interfaces=["em0"], collectors=[C1], persist=True)
    assert ret.result is True, ret.comment
    boot = pathlib.Path(loaders.opts["netflow"]["boot_dir"])
    script = (boot / "lan.ngctl").read_text()
    assert "mkpeer em0: netflow lower iface0" in script
    assert present(loaders, interfaces=["em0"], collectors=[C1], persist=True).changes == {}
    # emulated reboot, then what rc.d start does: load modules, replay the file
    ngsim("reboot", str(host.root))
    assert not (boot / "lan.modules").exists(), "one boot file per exporter"
    mods = [line.split()[1] for line in script.splitlines() if line.startswith("#@module ")]
    assert "ng_netflow" in mods
    subprocess.run([str(host.root / "bin" / "kldload"), "-n", *mods], check=True)
    subprocess.run([str(host.root / "bin" / "ngctl"), "-f", str(boot / "lan.ngctl")], check=True)
    assert present(loaders, interfaces=["em0"], collectors=[C1], persist=True, test=True).changes == {}


# ------------------------------------------------------------------------ bad input
# The unit tests' corpus (every class of bad value, each naming its key), run here through
# Salt and the emulator, plus cases only a live host can refuse.
from tests.support import bad_input as _unit  # noqa: E402
BAD = [(p, k) for p, k in _unit.BAD if p.get("name") is not None] + [
    ({"interfaces": ["em9"]}, "em9"),
    ({"interfaces": ["tun0"]}, "attach: ipfw"),
    ({"interfaces": ["em0", {"em9": {"direction": "egress"}}]}, "em9"),
]


@pytest.fixture(scope="module")
def fresh_host_once(host_root, loaders) -> Host:
    return Host(host_root).init()


@pytest.fixture
def quiet_host(fresh_host_once, loaders) -> Host:
    """One fresh host (em0..tun0, ng_ether loaded) for all the bad-input cases, which run
    one after the other, with a log mark per case: a refused input changes nothing, so
    the several hundred cases need no re-initialised host each."""
    fresh_host_once.mark()
    loaders.reset_state()
    return fresh_host_once


@pytest.mark.parametrize("override,key", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_fails_with_zero_mutating_calls(loaders, quiet_host, override, key, test_mode):
    host = quiet_host
    params = {"name": "lan", "interfaces": ["em0"], "collectors": [C1]}
    params.update(override)
    params = {k: v for k, v in params.items() if not (k == "name" and v is None)}
    if BAD.index((override, key)) % 10 == 0:
        # every tenth case through the whole state machinery (0.6 s of Salt's own set-up a call)
        ret = loaders.states.netflow.exporter_present(test=test_mode, **params)
        assert ret.result is False
        assert key in ret.comment
    else:
        # the rest through the execution function the state calls, loaded by Salt's loader
        from salt.exceptions import SaltInvocationError

        name = params.pop("name", None)
        persist = params.pop("persist", False)
        with pytest.raises(SaltInvocationError) as exc:
            loaders.modules.netflow.converge(name, declared=True, test=test_mode, persist=persist, **params)
        assert key in str(exc.value)
    assert host.mutating() == []


# ------------------------------------------------------------------------ foreign nodes
SEED = script_lines(REPO / "tests" / "data" / "hand_built_exporter.ngctl")


def test_foreign_exporter_refused_then_taken_over(loaders, host):
    assert host.ngctl("-f", "-", stdin="\n".join(SEED) + "\n").returncode == 0
    host.mark()
    ret = present(loaders)
    assert ret.result is False and "netflow" in ret.comment and "takeover" in ret.comment
    assert host.mutating() == []
    ret = present(loaders, takeover=True)
    assert ret.result is True, ret.comment
    listing = host.ngctl("list").stdout
    assert "nfsock" not in listing and "Name: netflow " not in listing and "lan_nf" in listing
    assert len(host.mutating()) == 1
    assert set(host.links().values()) == {"pass"}
    assert present(loaders).changes == {}


# ------------------------------------------------------------------------ drift repair
def _drift(host: Host, kind: str) -> None:
    cmds = {
        "netflow_shutdown": [["shutdown", "lan_nf:"]],
        "upper_cut": [["rmhook", "em0:", "upper"]],
        "lower_cut": [["rmhook", "em0:", "lower"]],
        "ksocket_shutdown": [["shutdown", "lan_v9:"]],
        "collector_repointed": [["msg", "lan_v9:", "connect", "inet/203.0.113.9:9999"]],
        "timeouts_changed": [["msg", "lan_nf:", "settimeouts", "{", "inactive=1", "}"]],
        "conf_changed": [["msg", "lan_nf:", "setconfig", "{", "iface=0", "conf=1", "}"]],
        "mtu_changed": [["msg", "lan_nf:", "setmtu", "{", "mtu=600", "}"]],
        "fanout_link_disabled": [["msg", "lan_v5:", "setconfig", "{", "xmitAlg=2", "failAlg=1", "enabledLinks=[", "1", "]", "}"]],
        "foreign_on_export": [["rmhook", "lan_nf:", "export"], ["mkpeer", "lan_nf:", "hub", "export", "x"]],
    }
    if kind == "interface_recreated":
        ngsim("ifdestroy", str(host.root), "em1")
        ngsim("ifcreate", str(host.root), "em1")
        return
    for c in cmds[kind]:
        proc = host.ngctl(*c)
        assert proc.returncode == 0, proc.stderr


DRIFTS = ["netflow_shutdown", "upper_cut", "lower_cut", "ksocket_shutdown", "collector_repointed",
          "timeouts_changed", "conf_changed", "mtu_changed", "fanout_link_disabled", "foreign_on_export",
          "interface_recreated"]


@pytest.mark.parametrize("kind", DRIFTS)
def test_drift_is_repaired_in_one_apply(loaders, host, kind):
    params = {"interfaces": ["em0", "em1"], "collectors": [C1, C5, {"host": "192.0.2.13", "port": 9996, "version": 5}]}
    assert present(loaders, **params).result is True
    _drift(host, kind)
    ret = present(loaders, **params)
    assert ret.result is True, ret.comment
    assert ret.changes, f"{kind}: the drift went unnoticed"
    assert present(loaders, **params).changes == {}
    assert set(host.links().values()) == {"pass"}


# ------------------------------------------------------------------------ fault injection
def _plan_len(loaders, **params) -> int:
    planned = loaders.modules.netflow.plan("lan", load_modules=False, **params)
    return len(planned["commands"])


SCENARIOS = {
    # name: (before, after)
    "create_one": (None, {"interfaces": ["em0"], "collectors": [C1]}),
    "create": (None, {"interfaces": ["em0", "em1", "vlan0.100"], "collectors": [C1, C2]}),
    "modify": (
        {"interfaces": ["em0", "em1"], "collectors": [C1]},
        {"interfaces": {"em0": {"direction": "egress"}, "vlan0.100": None}, "collectors": [C2, C5],
         "timeouts": {"active": 60, "inactive": 5}},
    ),
    "remove_one_of_three": ({"interfaces": ["em0", "em1", "vlan0.100"], "collectors": [C1]}, {"interfaces": ["em1"], "collectors": [C1]}),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_failure_at_every_position_leaves_traffic_passing_and_converges(loaders, host, scenario):
    before, after = SCENARIOS[scenario]
    positions = None
    pos = 1
    while positions is None or pos <= positions:
        host.init()
        loaders.reset_state()
        if before:
            assert present(loaders, **before).result is True
        if positions is None:
            positions = _plan_len(loaders, **after)
            assert positions > 0
        host.fail_at(pos)
        ret = present(loaders, **after)
        assert ret.result is False, f"{scenario}: failure at line {pos} went unreported"
        assert f"line {pos}" in ret.comment
        assert set(host.links().values()) == {"pass"}, f"{scenario}@{pos}: {host.links()}"
        again = present(loaders, **after)
        assert again.result is True, again.comment
        assert present(loaders, **after).changes == {}
        pos += 1


def test_failure_at_every_position_of_exporter_absent(loaders, host):
    before = {"interfaces": ["em0", "em1", "vlan0.100"], "collectors": [C1, C2, C5]}
    positions = None
    pos = 1
    while positions is None or pos <= positions:
        host.init()
        loaders.reset_state()
        assert present(loaders, **before).result is True
        if positions is None:
            positions = len(loaders.modules.netflow.absent_plan("lan")["commands"])
            assert positions > 0
        host.fail_at(pos)
        ret = loaders.states.netflow.exporter_absent(name="lan")
        assert ret.result is False and f"line {pos}" in ret.comment
        assert set(host.links().values()) == {"pass"}, f"absent@{pos}: {host.links()}"
        assert loaders.states.netflow.exporter_absent(name="lan").result is True
        assert "lan_" not in host.ngctl("list").stdout
        pos += 1


def test_apply_waits_for_the_lock_the_rc_script_holds(loaders, host):
    """rc.d/netflow replays under lockf(1) on netflow:lock_file (an flock): an apply that
    lands meanwhile waits for it instead of racing the replay, then applies."""
    import fcntl
    import threading

    params = {"interfaces": ["em0", "em1"], "collectors": [C1, C2]}
    lock = open(loaders.opts["netflow"]["lock_file"], "a+")
    fcntl.flock(lock, fcntl.LOCK_EX)  # what `lockf -k LOCK /usr/local/etc/rc.d/netflow ...` holds
    result = {}
    worker = threading.Thread(target=lambda: result.update(ret=present(loaders, **params)))
    try:
        worker.start()
        worker.join(1.5)
        assert worker.is_alive(), "the apply did not wait for the lock"
        assert host.mutating() == [], "nothing may change while the lock is held"
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    worker.join(60)
    assert result["ret"].result is True, result["ret"].comment
    assert set(host.links().values()) == {"pass"}
    assert present(loaders, **params).changes == {}


def test_test_mode_can_return_the_planned_graph_as_dot(loaders, host, tmp_path):
    ret = present(loaders, test=True, dot=True, interfaces=["em0", "em1"], collectors=[C1, C2])
    assert ret.result is None and host.mutating() == []
    dot = ret.changes["dot"]
    assert dot.startswith("graph netgraph_plan {")
    assert '"lan_nf" [' in dot and 'color = "darkgreen"' in dot
    if shutil.which("dot"):
        (tmp_path / "plan.dot").write_text(dot)
        out = subprocess.run(["dot", "-Tsvg", str(tmp_path / "plan.dot")], capture_output=True, text=True)
        assert out.returncode == 0 and "<svg" in out.stdout, out.stderr


def test_ipfw_attach_never_loads_the_firewall_itself(loaders, host):
    ifs = {"tun0": {"attach": "ipfw", "ipfw_hook": 1000}}
    ret = present(loaders, interfaces=ifs, collectors=[C1])
    assert ret.result is False and "firewall_enable" in ret.comment and "tun0" in ret.comment
    assert host.mutating() == []
    # with the firewall up (as rc.d/ipfw leaves it), only ng_ipfw is loaded, by the state
    subprocess.run([str(host.root / "bin" / "kldload"), "ipfw"], check=True)
    subprocess.run([str(host.root / "bin" / "ipfw"), "add", "65000", "allow", "ip", "from", "any", "to", "any"], check=True)
    host.mark()
    ret = present(loaders, interfaces=ifs, collectors=[C1])
    assert ret.result is True, ret.comment
    loads = [e["argv"] for e in host.mutating() if e["argv"][0].endswith("kldload")]
    assert loads and all("ipfw" not in a[1:] for a in loads) and any("ng_ipfw" in a for a in loads)


def test_netflow_dot_marks_our_nodes_in_the_live_graph(loaders, host):
    assert present(loaders, interfaces=["em0"], collectors=[C1]).result is True
    text = loaders.modules.netflow.dot("lan")
    nodes = {ln.split("[")[0].strip(): ln for ln in text.splitlines() if "[ label" in ln}
    assert "fillcolor" in nodes['"lan_nf"'] and "fillcolor" in nodes['"lan_v9"']
    assert "fillcolor" not in nodes['"em0"'] and "color" not in nodes['"em0"']
    assert loaders.modules.netflow.dot() == text  # exporters found by their _nf node


def dot_nodes(text: str) -> dict:
    """node -> its line, of a DOT text of netflow.dot."""
    return {ln.split("[")[0].strip().strip('"'): ln for ln in text.splitlines() if "[ label" in ln and " -- " not in ln}


def test_netflow_dot_draws_one_exporter_with_its_collectors_and_ipfw_feeds(loaders, host, tmp_path):
    """netflow.dot NAME draws that exporter only (another exporter on the same host, on
    the same ipfw node, is not drawn), its ksockets with the collectors they send to, and
    the ipfw rule and interface that feed each of its ipfw hooks."""
    subprocess.run([str(host.root / "bin" / "kldload"), "ipfw"], check=True)
    subprocess.run([str(host.root / "bin" / "ipfw"), "add", "65000", "allow", "ip", "from", "any", "to", "any"],
                   check=True)
    lan = present(loaders, interfaces={"em0": {}, "tun0": {"attach": "ipfw", "ipfw_hook": 1000}}, collectors=[C1, C2])
    assert lan.result is True, lan.comment
    wan = present(loaders, name="wan", interfaces={"em1": {}, "vlan0.100": {"attach": "ipfw", "ipfw_hook": 2000}},
                  collectors=[C5])
    assert wan.result is True, wan.comment
    text = loaders.modules.netflow.dot("lan")
    nodes = dot_nodes(text)
    assert set(nodes) == {"em0", "ipfw", "lan_nf", "lan_v9", "lan_v9_0", "lan_v9_1", "ipfw rule 1000"}, text
    assert "wan" not in text and "2000" not in text and "em1" not in text, text
    assert "to 192.0.2.10:2055}" in nodes["lan_v9_0"] and "to 192.0.2.11:2055}" in nodes["lan_v9_1"]
    assert '"{tun0|ipfw rule 1000: ngtee 1000 ip from any to any via tun0}"' in nodes["ipfw rule 1000"]
    assert '"ipfw rule 1000" -- "ipfw" [ label = "hook 1000"' in text and '"ipfw" -- "lan_nf"' in text
    # the positive control: the other exporter is there, and drawn when asked for
    wan_nodes = dot_nodes(loaders.modules.netflow.dot("wan"))
    assert set(wan_nodes) == {"em1", "ipfw", "wan_nf", "wan_v5", "ipfw rule 2000"}
    assert "to 192.0.2.12:9995}" in wan_nodes["wan_v5"] and "{vlan0.100|ipfw rule 2000" in wan_nodes["ipfw rule 2000"]
    both = dot_nodes(loaders.modules.netflow.dot())
    assert set(both) == set(nodes) | set(wan_nodes)
    assert dot_nodes(loaders.modules.netflow.dot("lan,wan")) == both
    if shutil.which("dot"):
        (tmp_path / "lan.dot").write_text(text)
        out = subprocess.run(["dot", "-Tsvg", str(tmp_path / "lan.dot")], capture_output=True, text=True)
        assert out.returncode == 0 and "192.0.2.11:2055" in out.stdout and "tun0" in out.stdout, out.stderr


@pytest.mark.skipif(not shutil.which("dot"), reason="graphviz's dot is not installed (apt-get install graphviz)")
def test_ngctl_dot_and_our_dot_render_with_graphviz(loaders, host, tmp_path):
    assert present(loaders, interfaces=["em0", "em1"], collectors=[C1, C5]).result is True
    for name, text in (("ngctl", loaders.modules.netgraph.dot()), ("ours", loaders.modules.netflow.dot("lan"))):
        src = tmp_path / f"{name}.dot"
        src.write_text(text)
        out = subprocess.run(["dot", "-Tsvg", str(src)], capture_output=True, text=True)
        assert out.returncode == 0 and "<svg" in out.stdout, (name, out.stderr)
        assert "lan_nf" in out.stdout and "em1" in out.stdout


def test_status_reports_settings_and_kernel_counters(loaders, host):
    assert present(loaders, interfaces=["em0"], collectors=[C1]).result is True
    st = loaders.modules.netflow.status("lan")
    assert st["present"] is True and set(st["nodes"]) == {"lan_nf", "lan_v9"}
    assert st["settings"]["timeouts"] == {"inactive": 15, "active": 1800}
    assert {k: st["interfaces"]["em0"][k] for k in ("iface", "dlt", "index", "conf")} == {
        "iface": 0, "dlt": 1, "index": 0, "conf": 11}
    assert st["collectors"][0]["host"] == "192.0.2.10" and st["collectors"][0]["connected"] is True
    assert st["counters"]["active_timeout"] == 1800
    raw = loaders.modules.netflow.status("lan", raw=True)["raw"]  # the kernel's replies, as before
    assert raw["settings"]["lan_nf"]["ifaces"] == {0: {"dlt": 1, "index": 0, "conf": 11}}
    assert raw["settings"]["lan_v9"]["peer"] == "inet/192.0.2.10:2055"
    assert raw["replies"]["lan_nf"]["info"]["Active timeout"] == 1800
    assert loaders.modules.netflow.status("other")["present"] is False
