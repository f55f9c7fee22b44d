"""Every command of docs/operating.md's ``sh`` blocks runs as written, through Salt's own
loader, on the emulated host the page describes (em0, em1; exporter ``lan`` on both with
one v9 collector, some traffic in): its arguments parsed as Salt's CLI parses them, its
``--out=`` rendered by that Salt outputter and, where the command pipes into
``sed 's/^ID: //'``, the text after the minion id checked. A mistyped command fails
(positive control), so a page whose commands no longer work fails this test."""
from __future__ import annotations

import pathlib
import re
import shlex

import pytest

from tests.support import nghost

REPO = pathlib.Path(__file__).resolve().parents[3]
OPERATING = REPO / "docs" / "operating.md"
C1 = {"host": "127.0.0.1", "port": 2055}


def doc_commands(text: str) -> list[dict]:
    """Each ``salt ID ...``/``salt-call ...`` line of the ``sh`` blocks of ``text``:
    ``{line, id, out, fun, argv, strip}`` (``strip``: the prefix a ``sed 's/^X: //'`` removes)."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            words = shlex.split(line.split("|")[0], comments=True)
            if not words or words[0] not in ("salt", "salt-call"):
                continue
            minion = words[1] if words[0] == "salt" else "local"
            opts = [w for w in words[1:] if w.startswith("--")]
            rest = [w for w in words[2 if words[0] == "salt" else 1:] if not w.startswith("--")]
            out = [o.split("=", 1)[1] for o in opts if o.startswith("--out=")]
            sed = re.search(r"sed 's/\^([^:]+): //'", line)
            found.append({"line": line.strip(), "id": minion, "out": out[0] if out else None, "fun": rest[0],
                          "argv": rest[1:], "strip": sed.group(1) + ": " if sed else None})
    return found


def run(loaders, cmd: dict, tmp: pathlib.Path):
    """``cmd`` as the minion runs it: Salt's CLI argument parsing, the function, the outputter."""
    import salt.output
    import salt.utils.args

    argv = [re.sub(r"^path=/.*/", f"path={tmp}/", a) for a in cmd["argv"]]  # no writes outside the test
    args, kwargs = salt.utils.args.parse_input(argv, condition=False)
    ret = loaders.modules[cmd["fun"]](*args, **kwargs)
    text = None
    if cmd["out"]:
        text = salt.output.string_format({cmd["id"]: ret}, cmd["out"], loaders.opts)
        if cmd["strip"]:
            assert all(line.startswith(cmd["strip"]) for line in text.splitlines()), text[:200]
            text = "".join(line[len(cmd["strip"]):] + "\n" for line in text.splitlines())
    return ret, text


@pytest.fixture(scope="module")
def described_host(tmp_path_factory):
    """The host of the page: lan on em0 and em1, one v9 collector, traffic in on both."""
    root, base = tmp_path_factory.mktemp("opdoc") / "host", tmp_path_factory.mktemp("opdocsalt")
    host = nghost.NgHost(root).init()
    loaders = nghost.ng_loaders_for(root, base, netflow=True)
    loaders.opts["netgraph.flowctl"] = str(root / "bin" / "flowctl")
    loaders.reset_state()
    ret = loaders.states.netflow.exporter_present(name="lan", interfaces=["em0", "em1"], collectors=[C1])
    assert ret.result is True, ret.comment
    for iface, src, dport, packets in (("em0", "198.51.100.7", "443", "10"), ("em1", "203.0.113.5", "53", "3")):
        nghost.run_ngsim("traffic", str(root), iface, "--src", src, "--dst", "10.0.0.10", "--proto", "tcp",
                         "--sport", "40000", "--dport", dport, "--packets", packets, "--bytes", "600",
                         "--direction", "in")
    return host, loaders


COMMANDS = doc_commands(OPERATING.read_text(encoding="utf-8"))


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c["line"] for c in COMMANDS])
def test_every_command_of_operating_md_runs_as_written(described_host, cmd, tmp_path):
    _host, loaders = described_host
    ret, text = run(loaders, cmd, tmp_path)
    assert ret is not None and ret != {}, f"{cmd['line']} returned nothing"
    if cmd["fun"] == "netflow.metrics":
        shown = text if text is not None else ret
        assert shown.startswith("# HELP netflow_") and 'exporter="lan"' in shown, shown[:200]
        if "path" in " ".join(cmd["argv"]):
            assert (tmp_path / "netflow.prom").read_text() == ret
    if cmd["fun"] in ("netflow.status", "netflow.heal"):
        assert "lan" in str(ret)


def test_positive_control_the_commands_are_found_and_a_broken_one_fails(described_host, tmp_path):
    funs = {c["fun"] for c in COMMANDS}
    assert {"netflow.list", "netflow.status", "netflow.flows", "netflow.metrics", "netflow.watch",
            "netflow.heal"} <= funs, funs
    piped = [c for c in COMMANDS if c["out"] == "txt" and c["strip"]]
    assert {c["id"] for c in piped} >= {"fw1", "local"}, "both pipelines through sed are checked"
    _host, loaders = described_host
    (broken,) = doc_commands("```sh\nsalt fw1 netflow.status lan intreval=5\n```\n")
    with pytest.raises(Exception, match="intreval"):
        run(loaders, broken, tmp_path)
    (typo,) = doc_commands("```sh\nsalt fw1 netflow.stauts lan\n```\n")
    with pytest.raises(KeyError):
        run(loaders, typo, tmp_path)
