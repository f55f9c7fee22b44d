"""Issue 14 parts 2 and 3 through Salt's own loader and ngsim hosts, nothing mocked:

* ``test=True`` on a freshly booted host (no netgraph module loaded, the firewall up as
  rc.d/ipfw leaves it) shows the full plan: its ngctl lines are, line for line, the batch
  the real apply then runs (ngsim's log, ``script``), its ipfw rules and modules those the
  apply adds and loads, for Ethernet, VLAN and ipfw-attached interfaces;
* the same pillar in any key order gives the same lines;
* ``changes`` in the pillar's terms (created / updated / removed, per interface, collector,
  setting), the ngctl lines beside them;
* ``netgraph.list``/``show`` ids and paths as ngctl writes them, ``netgraph.interfaces``,
  ``show em0:`` before ng_ether is loaded;
* the README's DOT pipeline, run as a user pastes it.
"""
from __future__ import annotations

import itertools
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from ngsim.testing import load_file

REPO = pathlib.Path(__file__).resolve().parents[3]
from tests.support import nghost as _conf  # noqa: E402 - after REPO, as before
demo = load_file(REPO / "demo" / "run.py", "preview_demo_run")

IFACES = ["em0", "vlan0.100", "tun0"]
C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}
C5 = {"host": "192.0.2.12", "port": 9995, "version": 5}
TUN = {"attach": "ipfw", "ipfw_hook": 1000}
ALL = {"em0": {}, "vlan0.100": {"direction": "egress"}, "tun0": TUN}
CASES = {
    "ethernet": {"em0": {}},
    "vlan": {"vlan0.100": {"direction": "egress"}},
    "ipfw": {"tun0": TUN},
    "all": ALL,
}


class Fresh(_conf.NgHost):
    """A host as after a fresh boot: em0, vlan0.100, tun0, no netgraph module loaded, the
    firewall up (ipfw.ko and an allow rule, as rc.d/ipfw with firewall_enable=YES)."""

    def init(self) -> "Fresh":
        super().init(ifaces=IFACES, loaded=())
        demo.firewall_up(self.root)
        self.clear_log()
        return self

    def ran(self) -> dict:
        """What ran since the log was cleared: the ngctl -f batches' lines, ipfw rules
        added, modules loaded; and whether anything mutating ran at all."""
        out = {"ngctl": [], "ipfw": [], "modules": [], "mutating": 0}
        for e in self.log():
            tool = e.get("binary", pathlib.Path(e["argv"][0]).name)
            out["mutating"] += bool(e["mutating"])
            if tool == "ngctl" and e["mutating"] and e.get("script") is not None:
                out["ngctl"].append(e["script"].splitlines())
            elif tool == "ipfw" and e["argv"][1:2] == ["add"]:
                out["ipfw"].append(" ".join(e["argv"][2:]))
            elif tool == "kldload":
                out["modules"] += [a for a in e["argv"][1:] if not a.startswith("-")]
        return out


host_root, loaders = _conf.netflow_fixtures("preview", Fresh, inprocess=True)


@pytest.fixture
def host(host_root, loaders) -> Fresh:
    h = Fresh(host_root).init()
    loaders.reset_state()
    return h


def present(loaders, test=False, name="lan", **params):
    params.setdefault("interfaces", ALL)
    params.setdefault("collectors", [C1, C2, C5])
    return loaders.states.netflow.exporter_present(name=name, test=test, **params)


# ------------------------------------------------------------------ part 2: the preview
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_preview_on_a_fresh_host_lists_what_the_apply_runs(loaders, host, case):
    interfaces = CASES[case]
    preview = present(loaders, test=True, interfaces=interfaces)
    assert preview.result is None, preview.comment
    assert preview.comment.startswith("Exporter lan would be created (")
    assert host.ran()["mutating"] == 0, "test=True loads and changes nothing"
    wanted = (["ng_ether"] if any(o.get("attach") != "ipfw" for o in interfaces.values()) else []) + (
        ["ng_ipfw"] if "tun0" in interfaces else [])
    assert preview.changes["modules"] == wanted
    host.clear_log()

    ret = present(loaders, interfaces=interfaces)
    assert ret.result is True, ret.comment
    assert ret.comment.startswith("Exporter lan created (")
    done = host.ran()
    assert done["ngctl"] == [preview.changes["ngctl"]], "one batch, line for line the preview's"
    assert done["modules"] == preview.changes["modules"]
    assert done["ipfw"] == preview.changes.get("ipfw", {}).get("add", [])
    assert ret.changes == preview.changes, "the apply reports what the preview said"
    assert set(json.loads(_conf.run_ngsim("links", str(host.root))).values()) == {"pass"}
    assert present(loaders, interfaces=interfaces).changes == {}


def test_preview_refuses_what_the_apply_would_refuse(loaders, host):
    """A declared interface that is not Ethernet (tun0 without attach: ipfw) or does not
    exist is refused by the preview too, before ng_ether is loaded, naming the Ethernet
    interfaces the host has (those ifconfig lists as ether: not tun0)."""
    for interfaces, word in (({"tun0": {}}, "tun0"), ({"em7": {}}, "em7")):
        ret = present(loaders, test=True, interfaces=interfaces)
        assert ret.result is False and word in ret.comment and "no Ethernet interface" in ret.comment
        assert ret.comment.endswith("(ng_ether nodes): em0, vlan0_100"), ret.comment
    assert host.ran()["mutating"] == 0


# ------------------------------------------------------------------ part 3: pillar order
def test_the_same_pillar_in_any_order_gives_the_same_lines(loaders, host):
    seen = set()
    for keys in itertools.permutations(ALL):
        for collectors in ([C1, C2, C5], [C5, C2, C1], [C2, C5, C1]):
            ret = present(loaders, test=True, interfaces={k: ALL[k] for k in keys}, collectors=collectors)
            seen.add(tuple(ret.changes["ngctl"]))
    assert len(seen) == 1
    assert present(loaders, interfaces=dict(reversed(list(ALL.items()))), collectors=[C5, C2, C1]).result is True
    assert present(loaders, interfaces=ALL, collectors=[C1, C2, C5]).changes == {}


# ------------------------------------------------------------------ part 3: changes
def test_changes_speak_the_pillars_language(loaders, host):
    both = {"em0": {}, "vlan0.100": {}, "tun0": TUN}
    first = present(loaders, interfaces=both, collectors=[C1, C5])
    assert first.result is True and first.changes["exporter"] == "created"
    assert first.changes["interfaces"]["vlan0.100"] == "added (direction both)"
    assert first.changes["settings"]["timeouts.active"] == "1800"
    assert not {"nodes_added", "hooks_added", "hooks_removed"} & set(first.changes)

    ret = present(loaders, interfaces={**both, "vlan0.100": {"direction": "egress"}}, collectors=[C1, C2, C5],
                  timeouts={"active": 600, "inactive": 15})
    assert ret.result is True, ret.comment
    assert ret.comment.startswith("Exporter lan updated (")
    assert {k: v for k, v in ret.changes.items() if k != "ngctl"} == {
        "exporter": "updated",
        "interfaces": {"vlan0.100": "direction both → egress"},
        "collectors": ["192.0.2.11:2055 v9 added"],
        "settings": {"timeouts.active": "1800 → 600"},
    }
    assert "msg lan_nf: settimeouts { inactive=15 active=600 }" in ret.changes["ngctl"]

    gone = loaders.states.netflow.exporter_absent(name="lan")
    assert gone.result is True, gone.comment
    assert {k: v for k, v in gone.changes.items() if k != "ngctl"} == {
        "exporter": "removed",
        "interfaces": {"em0": "removed", "tun0": "removed", "vlan0_100": "removed"},
        "collectors": ["192.0.2.10:2055 v9 removed", "192.0.2.11:2055 v9 removed", "192.0.2.12:9995 v5 removed"],
        "ipfw": {"delete": [1000], "delete_rules": ["1000 ngtee 1000 ip from any to any via tun0"]},
    }


# ------------------------------------------------------------------ netgraph.list / show
def test_list_and_show_give_ids_and_paths_as_ngctl_writes_them(loaders, host):
    ng = loaders.modules.netgraph
    assert ng.interfaces() == [{"name": "em0", "node": "em0"}, {"name": "vlan0.100", "node": "vlan0_100"}]
    from salt.exceptions import CommandExecutionError

    with pytest.raises(CommandExecutionError, match=r"ng_ether is not loaded: no node em0:"):
        ng.show("em0:")
    assert present(loaders).result is True
    with pytest.raises(CommandExecutionError) as err:
        ng.show("em9:")
    assert "ng_ether is not loaded" not in str(err.value) and "No such file or directory" in str(err.value)

    listed = ng.list()
    text = host.ngctl("list").stdout
    for node in listed:
        own = node["type"] == "socket"  # each ngctl run has its own socket node
        assert re.fullmatch(r"[0-9a-f]{8}", node["id"]) and (own or f"ID: {node['id']}" in text)
        assert node["path"] == "[%x]:" % int(node["id"], 16)
    nf = next(n for n in listed if n["name"] == "lan_nf")
    shown = ng.show(nf["path"])  # the path works as an ngctl path
    assert shown["name"] == "lan_nf" and shown["id"] == nf["id"] and shown["path"] == nf["path"]
    for hook in shown["hooks"]:
        peer = ng.show(hook["peer_path"])
        assert peer["name"] == hook["peer_name"] and peer["id"] == hook["peer_id"]
    assert ng.msg(nf["path"], "info")["from"] == int(nf["id"], 16)


# ------------------------------------------------------------------ README's DOT pipeline
SALT_SHIM = """#!{python}
# `salt TARGET --out=txt FUNCTION ARGS...` as a master prints it for one minion: the
# minion's return through Salt's own txt outputter, keyed by the minion id.
import json, subprocess, sys
import salt.output.txt
target, args = sys.argv[1], [a for a in sys.argv[2:] if not a.startswith("--out")]
proc = subprocess.run([{salt_call!r}, "--local", "--out=json", *args], capture_output=True, text=True, check=True)
sys.stdout.write(salt.output.txt.output({{target: json.loads(proc.stdout)["local"]}}))
"""


def readme_dot_commands() -> list[str]:
    """The README's DOT pipeline lines, as a user copies them (the trailing comment off)."""
    lines = [re.sub(r"\s+#\s.*$", "", line.strip()) for line in (REPO / "README.md").read_text().splitlines()
             if "netflow.dot" in line and "dot -Tsvg" in line]
    return list(dict.fromkeys(lines))


@pytest.mark.skipif(not shutil.which("dot"), reason="graphviz's dot is not installed (apt-get install graphviz)")
def test_the_readme_dot_pipeline_works_as_pasted(loaders, host, tmp_path):
    assert present(loaders, interfaces={"em0": {}, "vlan0.100": {}}, collectors=[C1]).result is True
    commands = readme_dot_commands()
    assert [c.split()[0] for c in commands] == ["salt-call", "salt"], commands
    confdir = demo.write_minion_config(tmp_path / "salt", host.root, {}, minion_id="fw1")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    salt_call = demo.salt_call_exe()
    (bindir / "salt").write_text(SALT_SHIM.format(python=sys.executable, salt_call=salt_call))
    (bindir / "salt").chmod(0o755)
    env = {**os.environ, "SALT_CONFIG_DIR": str(confdir),
           "PATH": os.pathsep.join([str(bindir), str(pathlib.Path(salt_call).parent), os.environ["PATH"]])}
    for command in commands:
        work = tmp_path / f"run-{command.split()[0]}"
        work.mkdir()
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=work, env=env, capture_output=True,
                              text=True)
        assert proc.returncode == 0, (command, proc.stderr)
        (svg,) = work.glob("*.svg")
        picture = svg.read_text()
        assert picture.lstrip().startswith("<?xml") and "<svg" in picture, command
        assert "lan_nf" in picture and "vlan0_100" in picture and "local:" not in picture and "fw1:" not in picture


# ------------------------------------------------- issue 19 class 8: a preview writes nothing
def _isolated_loaders(host: Fresh, base: pathlib.Path):
    """Salt's loader for ``host`` whose lock and boot files live in directories that do not
    exist yet (a fresh FreeBSD host before the first apply: no /var/run/netflow.lock, no
    /usr/local/etc/netflow)."""
    from saltfactories.utils.functional import Loaders

    opts = _conf.minion_opts_for(host.root, base / "salt")
    opts["netflow"] = {"boot_dir": str(base / "etc" / "netflow"), "lock_file": str(base / "run" / "netflow.lock")}
    return Loaders(opts)


def _tree(base: pathlib.Path) -> list[str]:
    """Every file and directory under ``base`` except Salt's own (its cache, pki, sock)."""
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.relative_to(base).parts[0] != "salt") + \
        sorted(str(p.relative_to(base)) for p in (base / "salt").rglob("*netflow*"))


def test_preview_on_a_fresh_host_creates_no_file_or_directory(host, tmp_path):
    """test=True (state and execution function, present and absent, persist on) plans in
    full and leaves no lock file, no lock or boot directory, no journal, no record."""
    ng = _isolated_loaders(host, tmp_path)
    before = _tree(tmp_path)
    ret = ng.states.netflow.exporter_present(name="lan", test=True, persist=True, interfaces=ALL, collectors=[C1, C5])
    assert ret.result is None and ret.changes["ngctl"] and "boot_files" in ret.changes, ret.comment
    assert ng.states.netflow.exporter_absent(name="old", test=True).result is True
    out = ng.modules.netflow.converge("lan", declared=True, test=True, persist=True, interfaces=ALL, collectors=[C1])
    assert out["result"] is None and out["plan"]["commands"]
    assert _tree(tmp_path) == before, "a preview wrote something"
    assert not (tmp_path / "run").exists() and not (tmp_path / "etc").exists()
    assert host.ran()["mutating"] == 0
    # positive control: the real apply takes (and so creates) that very lock, writes the boot file
    assert ng.states.netflow.exporter_present(name="lan", persist=True, interfaces=ALL, collectors=[C1, C5]).result
    assert (tmp_path / "run" / "netflow.lock").exists() and (tmp_path / "etc" / "netflow" / "lan.ngctl").exists()


def test_preview_takes_an_existing_lock_shared_and_waits_for_an_apply(host, tmp_path):
    """Where the lock file exists, a preview holds it shared: it waits while rc.d/netflow
    (lockf) or an apply holds it, so it never plans from a half-built graph; the file is
    left as it was."""
    import fcntl
    import threading

    ng = _isolated_loaders(host, tmp_path)
    (tmp_path / "run").mkdir()
    lock_path = tmp_path / "run" / "netflow.lock"
    lock_path.write_text("")
    lock_path.chmod(0o400)
    stat = lock_path.stat()
    result = {}
    with open(lock_path) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what `lockf -k LOCK rc.d/netflow start` holds
        worker = threading.Thread(target=lambda: result.update(ret=ng.states.netflow.exporter_present(
            name="lan", test=True, interfaces=["em0"], collectors=[C1])))
        worker.start()
        worker.join(1.5)
        assert worker.is_alive(), "the preview did not wait for the lock"
        fcntl.flock(lock, fcntl.LOCK_UN)
    worker.join(60)
    assert result["ret"].result is None, result["ret"].comment
    after = lock_path.stat()
    assert (after.st_mode, after.st_size, after.st_mtime_ns, after.st_ino) == \
        (stat.st_mode, stat.st_size, stat.st_mtime_ns, stat.st_ino)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["netflow.lock"], "no journal"
