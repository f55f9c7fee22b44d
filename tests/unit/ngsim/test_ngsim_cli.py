"""The ngsim command line (docs/CONTRACTS.md §1): init, binaries, reboot, ifcreate/ifdestroy,
links, log, fail, state; host independence, concurrency and per-spawn startup time."""
from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import time

from ngsim.testing import Host, ngsim


def test_init_writes_executables_bound_to_root(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0", "vlan0.100", "tun0"))
    for b in ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig", "flowctl"):
        path = os.path.join(host.root, "bin", b)
        assert os.access(path, os.X_OK)
        with open(path) as f:
            first = f.readline()
        assert first.startswith("#!" + sys.executable)
        assert "salt" not in open(path).read()
    st = host.state()
    assert [(i["name"], i["kind"], i["index"]) for i in st["ifaces"]] == [
        ("em0", "ether", 1), ("vlan0.100", "ether", 2), ("tun0", "other", 3)]
    # fresh boot: only the kernel
    r = host.kldstat()
    assert r.stdout.splitlines()[1:] == [" 1    1 0xffffffff80200000  1f3c6c0 kernel"]


def test_loaded_modules_with_deps_and_ether_names(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0", "vlan0.100", "lagg0", "wg0"),
                       loaded=("ng_ether",))
    names = host.kldstat().stdout
    assert "ng_ether.ko" in names and "netgraph.ko" in names
    out = host.ngctl("list").stdout
    assert "  Name: vlan0_100       Type: ether " in out
    assert "  Name: lagg0           Type: ether " in out
    assert "wg0" not in out


def test_iface_kind_override(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("tun0=ether", "em0=other"),
                       loaded=("ng_ether",))
    out = host.ngctl("list").stdout
    assert "tun0" in out and "em0" not in out


def test_no_salt_import_in_binaries(tmp_path):
    host = Host.create(str(tmp_path / "h"))
    code = ("import runpy, sys; sys.argv=[%r, 'list']\n"
            "try:\n runpy.run_path(%r, run_name='__main__')\n"
            "except SystemExit: pass\n"
            "print('MODS', sorted(m for m in sys.modules if m.split('.')[0] in ('salt','yaml','argparse')))"
            % ("ngctl", os.path.join(host.root, "bin", "ngctl")))
    r = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert "MODS []" in r.stdout, r.stdout + r.stderr


def test_startup_is_fast(tmp_path):
    host = Host.create(str(tmp_path / "h"), loaded=("ng_ether",))
    host.ngctl("list")  # warm the bytecode cache
    t0 = time.perf_counter()
    for _ in range(5):
        assert host.ngctl("list").returncode == 0
    per_spawn = (time.perf_counter() - t0) / 5
    print("per-spawn ngctl list: %.1f ms" % (per_spawn * 1000))
    assert per_spawn < 0.5  # generous bound for loaded CI machines; target is < 80 ms


def test_reboot_clears_graph_modules_and_rules(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether", "ng_ipfw"))
    assert host.ngctl("mkpeer", "em0:", "netflow", "lower", "iface0").returncode == 0
    assert host.ipfw("add", "100", "ngtee", "10", "ip", "from", "any", "to", "any").returncode == 0
    assert host.links() == {"em0": "blackhole"}
    ngsim("reboot", host.root)
    assert host.links() == {"em0": "pass"}
    st = host.state()
    assert st["nodes"] == {} and st["next_id"] == 1 and st["ipfw_rules"] == []
    assert [f["name"] for f in st["klds"]] == ["kernel"]
    assert [i["name"] for i in st["ifaces"]] == ["em0"]
    assert host.kldstat("-q", "-m", "ng_ether").returncode == 1


def test_ifcreate_ifdestroy(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether",))
    ngsim("ifcreate", host.root, "igb1")
    assert "  Name: igb1            Type: ether           ID: 00000002" in host.ngctl("list").stdout
    assert host.links() == {"em0": "pass", "igb1": "pass"}
    assert host.ngctl("mkpeer", "igb1:", "netflow", "lower", "iface0").returncode == 0
    assert host.links()["igb1"] == "blackhole"
    ngsim("ifdestroy", host.root, "igb1")
    out = host.ngctl("list").stdout
    assert "igb1" not in out and "netflow" not in out  # hooks cut, netflow self-destructed
    assert host.links() == {"em0": "pass"}
    assert ngsim("ifdestroy", host.root, "nope", check=False).returncode == 1
    # interfaces created before ng_ether loads get nodes when it loads
    h2 = Host.create(str(tmp_path / "h2"), ifaces=("em0",))
    ngsim("ifcreate", h2.root, "em1")
    assert "em1" not in h2.ngctl("list").stdout
    assert h2.kldload("ng_ether").returncode == 0
    assert "em1" in h2.ngctl("list").stdout


def test_log_records_every_invocation(tmp_path):
    host = Host.create(str(tmp_path / "h"), loaded=("ng_ether",))
    host.ngctl("list")
    host.ngctl("-f", "-", stdin="name em0: wan\n")
    host.ngctl("msg", "wan:", "getifname")
    host.ngctl("msg", "wan:", "setpromisc", "1")
    host.kldstat("-q", "-m", "ng_ether")
    host.kldload("-n", "ng_ether")
    log = host.log()
    assert [(e["argv"], e["rc"], e["mutating"], e["binary"]) for e in log] == [
        (["ngctl", "list"], 0, False, "ngctl"),
        (["ngctl", "-f", "-"], 0, True, "ngctl"),
        (["ngctl", "msg", "wan:", "getifname"], 0, False, "ngctl"),
        (["ngctl", "msg", "wan:", "setpromisc", "1"], 0, True, "ngctl"),
        (["kldstat", "-q", "-m", "ng_ether"], 0, False, "kldstat"),
        (["kldload", "-n", "ng_ether"], 0, True, "kldload"),
    ]
    assert log[1]["stdin"] == "name em0: wan\n" and log[0]["stdin"] == ""
    assert len(host.log(clear=True)) == 6
    assert host.log() == []


def test_fail_injection_command_line(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0", "em1"), loaded=("ng_ether",))
    host.fail(2)
    assert host.ngctl("list").returncode == 0  # read-only: not counted
    assert host.ngctl("name", "em0:", "a").returncode == 0  # 1st mutating
    r = host.ngctl("shutdown", "em1:")  # 2nd mutating: fails like the kernel would
    assert (r.returncode, r.stderr) == (71, "ngctl: shutdown: No buffer space available\n")
    r = host.ngctl("name", "em1:", "b")  # one-shot
    assert r.returncode == 0


def test_fail_injection_in_batch(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether",))
    host.fail(3, "ENOMEM")
    batch = ("mkpeer em0: netflow lower iface0\nname em0:lower nf\n"
             "msg nf: info\nconnect em0: nf: upper out0\nname nf: x\n")
    r = host.ngctl("-f", "-", stdin=batch)
    assert (r.returncode, r.stderr) == (
        71, "ngctl: send msg: Cannot allocate memory\nngctl: line 4: error in file\n")
    out = host.ngctl("show", "nf:").stdout
    assert "upper" not in out and "iface0" in out  # failing command had no effect
    assert host.links() == {"em0": "blackhole"}


def test_two_hosts_are_independent(tmp_path):
    a = Host.create(str(tmp_path / "a"), ifaces=("em0",), loaded=("ng_ether",))
    b = Host.create(str(tmp_path / "b"), ifaces=("em0", "em1"), loaded=("ng_ether",))
    assert a.ngctl("mkpeer", "em0:", "netflow", "lower", "iface0").returncode == 0
    assert a.links() == {"em0": "blackhole"}
    assert b.links() == {"em0": "pass", "em1": "pass"}
    assert "netflow" not in b.ngctl("list").stdout
    assert len(a.log()) == 1 and len(b.log()) == 1


def _worker(root: str, n: int, idx: int) -> list[int]:
    h = Host(root)
    rcs = []
    for i in range(n):
        name = "w%d_%d" % (idx, i)
        batch = "mkpeer em0: hub orphans x\nname em0:orphans %s\nrmhook em0: orphans\n" % name
        rcs.append(h.ngctl("-f", "-", stdin=batch).returncode)
    return rcs


def test_concurrent_invocations_serialize(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether",))
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda i: _worker(host.root, 6, i), range(4)))
    assert all(rc == 0 for rcs in results for rc in rcs)
    st = host.state()
    # every batch: 1 socket + 1 hub ID; all hubs self-destructed; only em0 left
    assert st["next_id"] == 2 + 4 * 6 * 2
    assert [n["name"] for n in st["nodes"].values()] == ["em0"]
    assert len(host.log()) == 24
    json.dumps(st)  # still valid JSON


def _names(host: Host) -> set[str]:
    return {n["name"] for n in host.state()["nodes"].values() if n["name"]}


def test_log_script_is_the_batch_from_stdin_or_file(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0", "em1"), loaded=("ng_ether",))
    piped = "#@ salt-netgraph plan lan\nname em0: wan\r\n\n# last line has no newline\nlist"
    f = tmp_path / "plan.ngctl"
    in_file = "#@ boot\nname em1: lan\nmsg nosuch: info\nname lan: never\n"
    f.write_bytes(in_file.encode())
    host.ngctl("-f", "-", stdin=piped)
    assert host.ngctl("-f", str(f)).returncode == 71  # stops at line 3: the script is all of it
    host.ngctl("-f", str(f), "list")  # command words win: the file is never read
    host.ngctl("-f", "/nonexistent/plan")
    host.ngctl("list")
    host.kldstat()
    log = host.log()
    assert [e["script"] for e in log] == [piped, in_file, None, None, None, None]
    assert [e["stdin"] for e in log] == [piped, "", "", "", "", ""]  # unchanged meaning
    assert [e["rc"] for e in log] == [0, 71, 0, 66, 0, 0]
    assert [e["killed"] for e in log] == [False] * 6


def test_die_kills_ngctl_between_two_lines(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0", "em1"), loaded=("ng_ether",))
    next_id = host.state()["next_id"]
    host.die(2)
    batch = ("#@ salt-netgraph plan\nname em0: a\n\n# comments and blank lines do not count\n"
             "list\nname em1: b\nname a: c\n")
    r = host.ngctl("-f", "-", stdin=batch)
    assert r.returncode == -9  # a signal death (SIGKILL), as the caller sees it
    assert (r.stdout, r.stderr) == ("", "")  # `list` output sat in stdio's buffer: lost
    entry = host.log()[-1]
    assert (entry["rc"], entry["killed"], entry["mutating"]) == (-9, True, True)
    assert entry["script"] == entry["stdin"] == batch
    st = host.state()  # the state file was saved before dying, and parses
    assert not os.path.exists(os.path.join(host.root, "state.json.tmp"))
    assert {n["name"] for n in st["nodes"].values()} == {"a", "em1"}  # lines 1-2 only
    assert st["next_id"] == next_id + 1  # the dead ngctl's socket node went with it
    assert st.get("die") is None  # one-shot
    r = host.ngctl("-f", "-", stdin="name em1: b\nname a: c\n")  # lock free, next one works
    assert (r.returncode, r.stderr) == (0, "")
    assert _names(host) == {"b", "c"}


def test_die_after_zero_from_file_and_what_does_not_spend_it(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether",))
    f = tmp_path / "plan.ngctl"
    f.write_text("name em0: a\n")
    host.die(0)
    assert host.ngctl("name", "em0:", "x").returncode == 0  # not a batch: knob stays
    assert host.ngctl("-f", str(f), "list").returncode == 0  # -f ignored: not a batch
    r = host.ngctl("-f", str(f))
    assert r.returncode == -9
    assert _names(host) == {"x"}  # no line ran
    assert host.log()[-1]["script"] == "name em0: a\n"
    assert host.ngctl("-f", str(f)).returncode == 71  # knob spent: em0 is x now, plain error
    assert ngsim("die", host.root, "--after", "-1", check=False).returncode != 0


def test_die_spent_when_the_batch_stops_first(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether",))
    host.die(3)
    r = host.ngctl("-f", "-", stdin="name em0: a\nbogus\nname a: b\n")
    assert (r.returncode, r.stderr) == (71, 'ngctl: "bogus": unknown command\n'
                                            "ngctl: line 2: error in file\n")
    r = host.ngctl("-f", "-", stdin="name a: b\nname b: c\nname c: d\nname d: e\n")
    assert r.returncode == 0 and _names(host) == {"e"}
    assert [e["killed"] for e in host.log()] == [False, False]


def test_die_keeps_what_stdio_had_flushed(tmp_path):
    """stdout to a pipe is written in whole 4096-byte stdio buffers; the rest dies."""
    host = Host.create(str(tmp_path / "h"), ifaces=("em0", "em1"), loaded=("ng_ether",))
    batch = "help\n" * 6 + "name em0: a\n"
    full = host.ngctl("-f", "-", stdin=batch[:-len("name em0: a\n")], pid=7).stdout
    assert len(full) > 4096
    host.die(6)
    r = host.ngctl("-f", "-", stdin=batch, pid=7)
    assert r.returncode == -9
    assert r.stdout == full[: len(full) // 4096 * 4096]
    assert "a" not in _names(host)


def test_hang_sleeps_without_the_host_lock_until_off_then_fails(tmp_path):
    """``ngsim hang ROOT ngctl``: ROOT/state.json lists it under "hang"; an ngctl run sleeps
    while other binaries (and ngsim itself) go on, and once ``--off`` it fails having run
    nothing (exit 75)."""
    host = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether",))
    ngsim("hang", host.root, "ngctl")
    ngsim("hang", host.root, "ipfw")
    assert host.state()["hang"] == ["ipfw", "ngctl"]
    proc = subprocess.Popen([os.path.join(host.root, "bin", "ngctl"), "mkpeer", "em0:", "netflow", "lower", "iface0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        assert proc.poll() is None, "hung"
        assert host.kldstat().returncode == 0, "the hung ngctl holds no lock"
        ngsim("hang", host.root, "ngctl", "--off")
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 75 and err == "ngctl: hung (ngsim hang), gave up without running\n"
    assert host.state()["hang"] == ["ipfw"]
    assert "Type: netflow" not in host.ngctl("list").stdout  # it ran nothing
    assert host.ngctl("list").returncode == 0  # positive control: ngctl answers again
    assert ngsim("hang", host.root, "bogus", check=False).returncode != 0
