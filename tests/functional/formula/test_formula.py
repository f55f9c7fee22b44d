"""The netflow formula end to end on one emulated FreeBSD host, with `salt-call --local`.

The host starts as after a fresh boot (interfaces em0, em1, vlan0.100, tun0; no netgraph
module loaded) and its pillar is pillar.example, as in `make demo` (whose minion config
writer is reused), plus the host paths of FreeBSD's sha256/lockf stand-ins and of the lock
(tests/support/rcd.py's write_standins). The tests run in order on one host: converge, idempotence, test-mode
preview of a pillar change, reboot + rc.d start (the real rc.d script, run by `sh` under a
stand-in rc.subr), rc.d stop while disabled, a dropped exporter, and netflow.clean.
"""
from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import sys

import pytest
import yaml

from tests.support import rcd

from netgraph_core import nf_boot
from ngsim.testing import load_file

REPO = pathlib.Path(__file__).resolve().parents[3]


def _load(name: str, path: pathlib.Path):
    return load_file(path, name)


demo = _load("netflow_demo_run", REPO / "demo" / "run.py")

EXAMPLE = yaml.safe_load((REPO / "pillar.example").read_text())
HOST_STATE = "netflow-exporter-netflow-exporters_present"  # the host is the unit: one state, changes by exporter
EXPORTER_NODES = {"lan_nf", "lan_v9", "lan_v9_0", "lan_v9_1", "lan_v5", "uplink_nf", "uplink_v5"}


def ngsim(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"ngsim {args}: {proc.stderr}"
    return proc.stdout


class Minion:
    def __init__(self, base: pathlib.Path):
        self.base = base
        self.host = demo.make_host(base / "host")
        demo.firewall_up(self.host)  # lan attaches tun0 through ipfw: firewall_enable=YES
        self.salt = base / "salt"
        self.etc = self.salt / "etc"
        self.confdir = demo.write_minion_config(self.salt, self.host, (REPO / "pillar.example").read_text())
        self.pillar_file = self.salt / "pillar" / "netflow.sls"
        self.tools = add_rc_tools(self.salt, base / "tools")

    def set_pillar(self, data: dict) -> None:
        self.pillar_file.write_text(yaml.safe_dump(data, default_flow_style=False))

    def call(self, *args: str) -> tuple[int, object]:
        proc = demo.salt_call(self.confdir, *args, "--out=json", capture=True)
        try:
            out = json.loads(proc.stdout)["local"]
        except (ValueError, KeyError):
            raise AssertionError(f"salt-call {args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}") from None
        return proc.returncode, out

    def apply(self, *args: str) -> dict:
        rc, out = self.call("state.apply", *args)
        assert isinstance(out, dict), out
        failed = {k: v["comment"] for k, v in out.items() if v["result"] is False}
        assert rc == 0 and not failed, failed or out
        return {v["__id__"]: v for v in out.values()}

    # --- the emulated host -----------------------------------------------------------
    def ngctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.host / "bin" / "ngctl"), *args], capture_output=True, text=True)

    def nodes(self) -> dict:
        """name -> type of every named node (ngctl list)."""
        out = {}
        for line in self.ngctl("list").stdout.splitlines():
            words = line.split()
            if words[:1] == ["Name:"] and "Type:" in words:
                out[words[1]] = words[words.index("Type:") + 1]
        return out

    def links(self) -> dict:
        return json.loads(ngsim("links", str(self.host)))

    def ipfw_rules(self) -> list[str]:
        proc = subprocess.run([str(self.host / "bin" / "ipfw"), "list"], capture_output=True, text=True)
        return proc.stdout.splitlines()

    def mutating(self) -> list[dict]:
        """Mutating invocations since the last call (and clear the log)."""
        lines = ngsim("log", str(self.host), "--clear").splitlines()
        return [e for e in map(json.loads, filter(str.strip, lines)) if e["mutating"]]

    def rc(self, arg: str, rc_conf: pathlib.Path | None = None) -> subprocess.CompletedProcess:
        return rcd.rc_command(arg, rc_conf or self.etc / "rc.conf.d" / "netflow", self.base / "rcwork")


def add_rc_tools(salt_dir: pathlib.Path, tools_dir: pathlib.Path) -> dict:
    """FreeBSD's sha256 and lockf as stand-ins, and a lock file of this test, in the
    host_paths pillar that demo.write_minion_config wrote (the rc.d script reads them from
    rc.conf.d/netflow, the state takes the same lock)."""
    tools = rcd.write_standins(tools_dir)
    tools["lock_file"] = str(tools_dir / "netflow.lock")
    paths_file = salt_dir / "pillar" / "host_paths.sls"
    paths = yaml.safe_load(paths_file.read_text())
    paths["netflow"]["lookup"].update(sha256=tools["sha256"], lockf=tools["lockf"])
    paths["netflow"]["lock_file"] = tools["lock_file"]
    paths_file.write_text(yaml.safe_dump(paths, default_flow_style=False))
    return tools


def changed(result: dict) -> dict:
    return {sid: r["changes"] for sid, r in result.items() if r["changes"]}


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    return Minion(tmp_path_factory.mktemp("formula"))


def test_first_apply_converges(minion):
    assert minion.links() == {"em0": "pass", "em1": "pass", "vlan0.100": "pass", "tun0": "pass"}
    result = minion.apply("netflow")
    assert set(result) == {
        HOST_STATE,
        "netflow-boot-file-managed-rc-script",
        "netflow-boot-file-managed-rc-conf-d",
    }
    assert set(changed(result)) == set(result)
    assert set(result[HOST_STATE]["changes"]) == {"lan", "uplink"}
    assert {c["exporter"] for c in result[HOST_STATE]["changes"].values()} == {"created"}
    nodes = minion.nodes()
    assert {n: t for n, t in nodes.items() if n in EXPORTER_NODES} == {
        "lan_nf": "netflow", "lan_v9": "one2many", "lan_v9_0": "ksocket", "lan_v9_1": "ksocket",
        "lan_v5": "ksocket", "uplink_nf": "netflow", "uplink_v5": "ksocket",
    }
    assert any("ngtee 1000 ip from any to any via tun0" in r for r in minion.ipfw_rules())
    assert set(minion.links().values()) == {"pass"}
    kld = subprocess.run([str(minion.host / "bin" / "kldstat")], capture_output=True, text=True).stdout
    assert "ng_ipfw.ko" in kld and "ng_ether.ko" in kld and "ng_one2many.ko" in kld  # loaded by the state
    boot = minion.etc / "netflow"
    assert sorted(p.name for p in boot.iterdir()) == ["lan.ngctl", "uplink.ngctl"]  # one file per exporter
    lan = nf_boot.verify((boot / "lan.ngctl").read_text())
    assert lan["name"] == "lan" and "ng_ipfw" in lan["modules"] and lan["attach"] == ["em0", "vlan0_100"]
    assert lan["ipfw"] == ["add 1000 ngtee 1000 ip from any to any via tun0"]
    assert nf_boot.verify((boot / "uplink.ngctl").read_text())["attach"] == ["em1"]
    conf = (minion.etc / "rc.conf.d" / "netflow").read_text().splitlines()
    assert conf[2:] == [
        "netflow_enable='YES'",
        f"netflow_boot_dir='{boot}'",
        f"netflow_ngctl='{minion.host}/bin/ngctl'",
        f"netflow_kldload='{minion.host}/bin/kldload'",
        f"netflow_kldstat='{minion.host}/bin/kldstat'",
        f"netflow_ipfw='{minion.host}/bin/ipfw'",
        f"netflow_sha256='{minion.tools['sha256']}'",
        f"netflow_lockf='{minion.tools['lockf']}'",
        f"netflow_lock='{minion.tools['lock_file']}'",
        f"netflow_script='{minion.etc / 'rc.d' / 'netflow'}'",
    ]
    assert (minion.etc / "rc.d" / "netflow").read_text() == (REPO / "formula/netflow/files/default/netflow.rc").read_text()


def test_second_apply_changes_nothing(minion):
    minion.mutating()
    result = minion.apply("netflow")
    assert changed(result) == {}
    assert all(r["result"] is True for r in result.values())
    assert minion.mutating() == []


def test_test_mode_previews_exactly_a_pillar_change(minion):
    new = copy.deepcopy(EXAMPLE)
    new["netflow"]["exporters"]["lan"]["timeouts"] = {"active": 600, "inactive": 15}
    minion.set_pillar(new)
    try:
        minion.mutating()
        result = minion.apply("netflow", "test=True")
        assert minion.mutating() == [], "test=True must not change the host"
        diff = changed(result)
        assert set(diff) == {HOST_STATE}
        assert set(diff[HOST_STATE]) == {"lan"}, "only lan would change"
        assert result[HOST_STATE]["result"] is None
        assert diff[HOST_STATE]["lan"]["ngctl"] == ["msg lan_nf: settimeouts { inactive=15 active=600 }"]
        assert "boot_files" in diff[HOST_STATE]["lan"]  # lan.ngctl would be rewritten too
        assert all(r["result"] is True for sid, r in result.items() if sid != HOST_STATE)
    finally:
        minion.set_pillar(EXAMPLE)
    assert changed(minion.apply("netflow", "test=True")) == {}


def test_reboot_without_firewall_starts_only_the_ether_exporters(minion):
    """rc.d/netflow never loads ipfw.ko (default deny): lan (tun0 via ipfw) is not rebuilt."""
    ngsim("reboot", str(minion.host))
    proc = minion.rc("start")
    assert proc.returncode == 1 and "the ipfw firewall is not loaded" in proc.stderr
    assert "Started netflow exporter uplink." in proc.stdout
    nodes = set(minion.nodes())
    assert {"uplink_nf", "uplink_v5"} <= nodes and not {"lan_nf", "lan_v9", "lan_v5"} & nodes
    assert "ipfw" not in subprocess.run([str(minion.host / "bin" / "kldstat")], capture_output=True, text=True).stdout
    assert set(minion.links().values()) == {"pass"}


def test_reboot_then_rc_start_restores_the_declared_graph(minion):
    ngsim("reboot", str(minion.host))
    assert not EXPORTER_NODES & set(minion.nodes())
    demo.firewall_up(minion.host)  # rc.d/ipfw runs before rc.d/netflow
    proc = minion.rc("start")  # boot: netflow_enable="YES" from the formula's rc.conf.d
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Started netflow exporter lan." in proc.stdout and "Started netflow exporter uplink." in proc.stdout
    assert EXPORTER_NODES <= set(minion.nodes())
    assert set(minion.links().values()) == {"pass"}
    assert any("ngtee 1000" in r for r in minion.ipfw_rules())
    status = minion.rc("status")
    assert status.returncode == 0 and "lan is running" in status.stdout
    minion.mutating()
    result = minion.apply("netflow", "test=True")
    assert changed(result) == {}, changed(result)
    assert minion.mutating() == []


def test_rc_stop_works_after_the_service_is_disabled(minion, tmp_path):
    disabled = tmp_path / "netflow"
    disabled.write_text((minion.etc / "rc.conf.d" / "netflow").read_text().replace(
        "netflow_enable='YES'", "netflow_enable='NO'"))
    assert "Cannot 'start'" in minion.rc("start", disabled).stdout
    proc = minion.rc("stop", disabled)
    assert proc.returncode == 0 and "Cannot" not in proc.stdout, proc.stdout + proc.stderr
    assert not EXPORTER_NODES & set(minion.nodes())
    assert not any("ngtee 1000" in r for r in minion.ipfw_rules())
    assert set(minion.links().values()) == {"pass"}
    # Salt repairs it (drift), and the next run changes nothing
    result = minion.apply("netflow")
    assert set(changed(result)) == {HOST_STATE}
    assert set(result[HOST_STATE]["changes"]) == {"lan", "uplink"}
    assert changed(minion.apply("netflow")) == {}


def test_dropped_exporter_is_removed(minion):
    new = copy.deepcopy(EXAMPLE)
    del new["netflow"]["exporters"]["uplink"]
    minion.set_pillar(new)
    try:
        result = minion.apply("netflow")
        assert set(changed(result)) == {HOST_STATE}
        assert set(result[HOST_STATE]["changes"]) == {"uplink"}, "lan is untouched"
        absent = result[HOST_STATE]["changes"]["uplink"]
        assert absent["exporter"] == "removed"
        assert absent["interfaces"] == {"em1": "removed"}
        assert absent["collectors"] == ["198.51.100.5:9996 v5 removed"]  # its ksocket goes with it
        assert absent["ngctl"][0] == "shutdown uplink_nf:"
        assert not {"uplink_nf", "uplink_v5"} & set(minion.nodes())
        assert not list((minion.etc / "netflow").glob("uplink.*"))
        assert minion.links()["em1"] == "pass"
        assert changed(minion.apply("netflow")) == {}
    finally:
        minion.set_pillar(EXAMPLE)


def test_persist_false_removes_boot_persistence(minion):
    new = copy.deepcopy(EXAMPLE)
    new["netflow"]["persist"] = False
    new["netflow"]["exporters"]["uplink"]["persist"] = False
    minion.set_pillar(new)
    try:
        result = minion.apply("netflow")
        assert not (minion.etc / "rc.conf.d" / "netflow").exists()
        assert not list((minion.etc / "netflow").glob("*"))
        assert "netflow-boot-file-absent-rc-conf-d" in changed(result)
        assert changed(minion.apply("netflow")) == {}
    finally:
        minion.set_pillar(EXAMPLE)


def test_clean_leaves_no_exporter_and_every_link_passing(minion):
    minion.apply("netflow")
    assert EXPORTER_NODES <= set(minion.nodes())
    # boot files of the earlier three-file format: exporter_absent removes them too
    legacy = [minion.etc / "netflow" / "lan.modules", minion.etc / "netflow" / "uplink.ipfw"]
    for path in legacy:
        path.write_text("ng_ether\n")
    rc, result = minion.call("state.apply", "netflow.clean")  # keyed by state, not ID (one ID, two exporters)
    assert rc == 0 and all(r["result"] is True for r in result.values()), result
    order = sorted(result, key=lambda s: result[s]["__run_num__"])  # reverse order of init.sls
    rc_conf_d, rc_script = str(minion.etc / "rc.conf.d" / "netflow"), str(minion.etc / "rc.d" / "netflow")
    # each block of the output says what once: the ID its part, Function how, Name which
    assert [(result[s]["__id__"], s.split("_|-")[0] + "." + s.split("_|-")[-1], result[s]["name"])
            for s in order] == [
        ("netflow-clean-rc-conf-d", "file.absent", rc_conf_d),
        ("netflow-clean-exporters", "netflow.exporter_absent", "lan"),
        ("netflow-clean-exporters", "netflow.exporter_absent", "uplink"),
        ("netflow-clean-rc-script", "file.absent", rc_script),
    ]
    assert not any(path.exists() for path in legacy)
    assert not [t for t in minion.nodes().values() if t in ("netflow", "ksocket", "one2many")]
    assert not any("ngtee" in r for r in minion.ipfw_rules())
    assert set(minion.links().values()) == {"pass"}
    assert not list((minion.etc / "netflow").glob("*"))
    assert not (minion.etc / "rc.d" / "netflow").exists()
    assert not (minion.etc / "rc.conf.d" / "netflow").exists()
    assert changed(minion.apply("netflow.clean")) == {}


def test_tofs_overrides_the_rc_script_per_minion_and_per_pillar(tmp_path):
    """files/<minion id>/netflow.rc wins over files/default/; a pillar
    tofs:source_files entry is tried before the formula's own file name."""
    host = demo.make_host(tmp_path / "host")
    confdir = demo.write_minion_config(tmp_path / "salt", host, {"netflow": {"exporters": None, "persist": False}})
    site = tmp_path / "site"
    conf = yaml.safe_load((confdir / "minion").read_text())
    conf["file_roots"]["base"].insert(0, str(site))
    conf["fileserver_list_cache_time"] = 0  # the files below appear between two runs
    (confdir / "minion").write_text(yaml.safe_dump(conf))
    rc_script = tmp_path / "salt" / "etc" / "rc.d" / "netflow"

    def apply(pillar: dict) -> str:
        (tmp_path / "salt" / "pillar" / "netflow.sls").write_text(yaml.safe_dump(pillar))
        proc = demo.salt_call(confdir, "state.apply", "netflow", "--out=json", capture=True)
        out = json.loads(proc.stdout)["local"]
        assert proc.returncode == 0 and all(r["result"] for r in out.values()), out
        return rc_script.read_text()

    base = {"netflow": {"exporters": None, "persist": False}}
    assert apply(base) == (REPO / "formula/netflow/files/default/netflow.rc").read_text()
    (site / "netflow/files" / conf["id"]).mkdir(parents=True)
    (site / "netflow/files" / conf["id"] / "netflow.rc").write_text("#!/bin/sh\n# this firewall's own\n")
    assert apply(base) == "#!/bin/sh\n# this firewall's own\n"
    (site / "netflow/files/default").mkdir(parents=True)
    (site / "netflow/files/default/site.rc").write_text("#!/bin/sh\n# the site's\n")
    tofs = {"source_files": {"netflow-boot-file-managed-rc-script": ["site.rc"]}, "files_switch": ["os_family"]}
    assert apply({"netflow": {**base["netflow"], "tofs": tofs}}) == "#!/bin/sh\n# the site's\n"


@pytest.mark.parametrize(
    "pillar, expect",
    [
        ({}, {"netflow-boot-file-managed-rc-script": True, "netflow-boot-file-managed-rc-conf-d": True}),
        ({"netflow": {"exporters": None, "persist": False}},
         {"netflow-boot-file-managed-rc-script": True, "netflow-boot-file-absent-rc-conf-d": True}),
        # a failed exporter fails the host state and leaves rc.conf.d untouched (it requires it)
        ({"netflow": {"exporters": {"x": {"interfaces": ["em0"], "collectors": [{"host": "example.org", "port": 2055}]}}}},
         {HOST_STATE: False, "netflow-boot-file-managed-rc-script": True,
          "netflow-boot-file-managed-rc-conf-d": False}),
    ],
    ids=["no-pillar", "no-exporters-no-persist", "bad-exporter"],
)
def test_formula_renders_edge_pillars(tmp_path, pillar, expect):
    host = demo.make_host(tmp_path / "host")
    confdir = demo.write_minion_config(tmp_path / "salt", host, pillar)
    proc = demo.salt_call(confdir, "state.apply", "netflow", "--out=json", capture=True)
    out = json.loads(proc.stdout)["local"]
    assert {r["__id__"]: r["result"] for r in out.values()} == expect
    assert (proc.returncode == 0) == all(expect.values())
    if not all(expect.values()):
        bad = next(r for r in out.values() if r["__id__"] == HOST_STATE)
        assert "collectors" in bad["comment"] and "example.org" in bad["comment"], bad["comment"]
        assert not (tmp_path / "salt" / "etc" / "rc.conf.d" / "netflow").exists()
        log = ngsim("log", str(host)).splitlines()
        assert not [e for e in map(json.loads, filter(str.strip, log)) if e["mutating"]]
