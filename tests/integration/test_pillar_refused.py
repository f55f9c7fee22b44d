"""A bad pillar through a real salt-master and salt-minion fails naming each key and changes
nothing, on whatever Salt runs this file (`make test-salts`: 3006, 3007 and 3008). On Salt
3006 the formula once ended in "'allow_test_mode_failure' is an invalid keyword argument"
instead. The minion is test_netgraph_daemons.py's (one daemon fewer to start)."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = pathlib.Path(__file__).resolve().parents[2]
MINION = "ng-fw1"
GOOD = {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.10", "port": 2055}]}
BAD = {"9lan": GOOD, "wan": {"interfaces": ["em1"], "colectors": GOOD["collectors"]}}
NAMED = ('netflow:exporters:"9lan"', 'netflow:exporters:"wan": unknown parameter key(s) "colectors"')
SALT_ERRORS = ("allow_test_mode_failure", "invalid keyword argument", "Traceback", "Rendering SLS")


class Minion:
    def __init__(self, master, cli, root: pathlib.Path):
        self.cli, self.root = cli, root
        self.etc = root / "etc-refused"
        self.pillar_file = master.pillar_tree.base.write_path / "netflow_refused.sls"

    def set_exporters(self, exporters: dict) -> None:
        etc = self.etc
        self.pillar_file.write_text(yaml.safe_dump({"netflow": {
            "boot_dir": str(etc / "netflow"), "lock_file": str(etc / "netflow.lock"),
            "lookup": {"rc_script": str(etc / "rc.d" / "netflow"), "rc_conf_d": str(etc / "rc.conf.d" / "netflow")},
            "exporters": exporters}}))

    def apply(self, *args: str):
        return self.cli.run("state.apply", "netflow", *args, "--timeout=120", minion_tgt=MINION)

    def mutating(self) -> int:
        out = subprocess.run([sys.executable, "-m", "ngsim", "log", str(self.root)], capture_output=True, text=True,
                             check=True, cwd=REPO).stdout
        return sum(1 for e in map(json.loads, filter(str.strip, out.splitlines())) if e["mutating"])

    def files(self) -> list:
        return [p for p in self.etc.rglob("*") if p.is_file()] if self.etc.exists() else []


@pytest.fixture(scope="module")
def minion(ng_master, ng_minion, ng_salt_cli):
    ng_minion(MINION, ifaces=("em0", "em1"))
    m = Minion(ng_master, ng_salt_cli, ng_minion.root(MINION))
    m.set_exporters(BAD)
    with ng_master.pillar_tree.base.temp_file("top.sls", f"base:\n  {MINION}:\n    - netflow_refused\n"):
        yield m
    m.pillar_file.unlink()


def test_the_minion_runs_this_salt(minion):
    import salt.version

    ret = minion.cli.run("test.version", minion_tgt=MINION)
    assert ret.returncode == 0 and ret.data == salt.version.__version__, ret


@pytest.mark.parametrize("mode", [(), ("test=True",)], ids=["real", "test"])
def test_a_bad_pillar_fails_naming_each_key(minion, mode):
    minion.set_exporters(BAD)
    before = minion.mutating()
    ret = minion.apply(*mode)
    text = json.dumps(ret.data) + ret.stdout + ret.stderr
    assert ret.returncode != 0, ret
    assert isinstance(ret.data, dict) and ret.data, ret
    assert not [e for e in SALT_ERRORS if e in text], text
    comments = [r["comment"] for r in ret.data.values()]
    assert all(r["result"] is False and r["changes"] == {} and "-netflow-refused-" in r["__id__"]
               for r in ret.data.values()), ret.data
    assert all(any(named in c for c in comments) for named in NAMED), comments
    assert minion.mutating() == before and minion.files() == []


def test_positive_control_a_good_pillar_previews_its_exporter(minion):
    # em1: test_netgraph_daemons.py leaves its own netflow node on em0
    minion.set_exporters({"lan": {**GOOD, "interfaces": ["em1"]}})
    try:
        ret = minion.apply("test=True")
        assert isinstance(ret.data, dict), ret
        failed = [(r["__id__"], r["comment"]) for r in ret.data.values() if r["result"] is False]
        assert not failed, failed
        host = next(r for r in ret.data.values() if r["__id__"] == "netflow-exporter-netflow-exporters_present")
        assert host["result"] is None and set(host["changes"]) == {"lan"}, host
    finally:
        minion.set_exporters(BAD)
