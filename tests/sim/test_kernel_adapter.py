"""The in-process kernel adapter (tests/support/kernel.py): the netgraph module's spawns
reach it through Salt's loader, and its two fault knobs answer as the real thing does."""
from __future__ import annotations

import pytest

from tests.support import kernel, sim


@pytest.fixture
def machine():
    m = sim.NetflowMachine()
    yield m
    m.teardown()


def test_netgraph_spawns_reach_the_adapter_in_process(machine):
    h = machine.h
    before = len(h.adapter.calls)
    nodes = h.loaders.modules["netgraph.list"]()
    assert len(h.adapter.calls) == before + 1
    assert h.adapter.calls[-1]["argv"] == [str(h.root / "bin" / "ngctl"), "list"]
    import os

    # ngctl's own socket node is named after the calling process: this one, not a child
    assert [n["name"] for n in nodes if n["type"] == "socket"] == [f"ngctl{os.getpid()}"]


def test_a_killed_ngctl_returns_minus_9(machine):
    from ngsim import cli

    h = machine.h
    assert h.run("kldload", "ng_ether")[0] == 0  # a fresh boot has no ng_ether node yet
    cli.main(["die", str(h.root), "--after", "1"])
    out = h.adapter([str(h.root / "bin" / "ngctl"), "-f", "-"], stdin="name em0: first\nname em0: second\n")
    assert out["retcode"] == kernel.ngtool.KILLED
    assert [e["killed"] for e in h.log()][-1] is True


def test_a_hung_binary_times_out_as_salts_cmd_run_all_does(machine, tmp_path):
    """The adapter's answer for a hung binary with ``timeout=`` is what Salt 3008's own
    cmd.run_all returns for a command that outlives its timeout (pid aside)."""
    import salt.config
    import salt.loader

    h = machine.h
    opts = salt.config.minion_config(None)
    opts.update(cachedir=str(tmp_path / "cache"), extension_modules=str(tmp_path / "ext"), grains={})
    real = salt.loader.minion_mods(opts, whitelist=["cmd"])["cmd.run_all"]
    argv = ["sleep", "5"]
    want = real(argv, python_shell=False, ignore_retcode=True, timeout=1)
    kernel.set_hang(str(h.root), "ngctl")
    try:
        got = h.adapter(argv[:0] + [str(h.root / "bin" / "ngctl"), "list"], python_shell=False,
                        ignore_retcode=True, timeout=1)
        assert kernel.hung(str(h.root)) == ["ngctl"]
    finally:
        kernel.set_hang(str(h.root), "ngctl", on=False)
    assert want["retcode"] == got["retcode"] == 1 and want["stderr"] == got["stderr"] == ""
    assert want["stdout"] == "['sleep', '5'] : Timed out after 1 seconds"
    assert got["stdout"] == f"{[str(h.root / 'bin' / 'ngctl'), 'list']} : Timed out after 1 seconds"
    assert set(want) == set(got)


def test_a_hung_binary_without_timeout_is_an_i8_violation(machine):
    h = machine.h
    kernel.set_hang(str(h.root), "ngctl")
    try:
        with pytest.raises(kernel.HungForever):
            h.adapter([str(h.root / "bin" / "ngctl"), "list"])
    finally:
        kernel.set_hang(str(h.root), "ngctl", on=False)
    assert h.adapter.hangs == [f"{h.root / 'bin' / 'ngctl'} list"]
