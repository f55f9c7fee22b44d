"""`ngsim links` with ipfw loaded: a bare ipfw.ko denies everything (default rule 65535),
so loading it cuts every interface off until a rule allows traffic; ngtee only copies."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def ngsim(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def test_ipfw_rules_decide_whether_interfaces_pass(tmp_path):
    root = tmp_path / "h"
    ngsim("init", str(root), "--iface", "em0", "--iface", "tun0")
    ipfw = [str(root / "bin" / "ipfw")]
    links = lambda: json.loads(ngsim("links", str(root)))  # noqa: E731
    assert links() == {"em0": "pass", "tun0": "pass"}
    subprocess.run([str(root / "bin" / "kldload"), "ipfw"], check=True)
    assert links() == {"em0": "blackhole", "tun0": "blackhole"}, "default rule 65535 denies"
    subprocess.run(ipfw + ["add", "1000", "ngtee", "1000", "ip", "from", "any", "to", "any", "via", "tun0"], check=True)
    assert links() == {"em0": "blackhole", "tun0": "blackhole"}, "ngtee copies, it does not allow"
    subprocess.run(ipfw + ["add", "65000", "allow", "ip", "from", "any", "to", "any"], check=True)
    assert links() == {"em0": "pass", "tun0": "pass"}
    subprocess.run(ipfw + ["add", "100", "deny", "ip", "from", "any", "to", "any", "out", "xmit", "em0"], check=True)
    assert links() == {"em0": "blackhole", "tun0": "pass"}
    subprocess.run(ipfw + ["add", "50", "netgraph", "7", "ip", "from", "any", "to", "any", "in", "via", "tun0"], check=True)
    assert links()["tun0"] == "blackhole", "netgraph diverts; nothing brings the packet back"
