"""A real salt-master and salt-minion: the minion answers netgraph.show em0: from its own
emulated FreeBSD host."""
import json
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration
REPO = pathlib.Path(__file__).resolve().parents[2]


def test_minion_answers_netgraph_show(ng_minion, ng_salt_cli):
    minion = ng_minion("ng-fw1", ifaces=("em0", "em1"))
    root = ng_minion.root("ng-fw1")
    subprocess.run([str(root / "bin" / "ngctl"), "mkpeer", "em0:", "netflow", "lower", "iface0"], check=True)
    subprocess.run([str(root / "bin" / "ngctl"), "name", "em0:lower", "nf0"], check=True)
    subprocess.run([str(root / "bin" / "ngctl"), "connect", "em0:", "nf0:", "upper", "out0"], check=True)

    ret = ng_salt_cli.run("netgraph.show", "em0:", minion_tgt=minion.id)
    assert ret.returncode == 0, ret
    show = ret.data
    assert show["name"] == "em0" and show["type"] == "ether" and show["num_hooks"] == 2
    assert {h["hook"]: (h["peer_name"], h["peer_hook"]) for h in show["hooks"]} == {
        "upper": ("nf0", "out0"),
        "lower": ("nf0", "iface0"),
    }

    # ng_parse text typed on the salt command line survives Salt's YAML parsing of arguments.
    ret = ng_salt_cli.run("netgraph.msg", "nf0:", "settimeouts", "{ inactive=20 active=300 }", minion_tgt=minion.id)
    assert ret.returncode == 0, ret
    ret = ng_salt_cli.run("netgraph.msg", "nf0:", "info", minion_tgt=minion.id)
    assert ret.data["args"] == {"Inactive timeout": 20, "Active timeout": 300}

    # Hostile input is refused on the minion with no spawn at all.
    before = subprocess.run(
        [sys.executable, "-m", "ngsim", "log", str(root)], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    ret = ng_salt_cli.run("netgraph.name", "em1:", "x; reboot", minion_tgt=minion.id)
    assert ret.returncode != 0, ret
    assert "contains whitespace" in (json.dumps(ret.data) + ret.stdout), ret
    after = subprocess.run(
        [sys.executable, "-m", "ngsim", "log", str(root)], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert after == before
