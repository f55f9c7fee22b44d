"""The formula's rc.d script (formula/netflow/files/default/netflow.rc) run by ``sh`` on
Linux, as tests/unit/formula/test_rcd.py runs it: only the path of ``/etc/rc.subr`` is
replaced, by a stand-in keeping the parts of FreeBSD's rc.subr the script relies on;
FreeBSD's ``sha256`` and ``lockf`` are stand-ins over sha256sum and flock(1).

They live here once: tests/unit/formula/test_rcd.py, the formula's functional tests and
the simulation suite import them. ``RcHost`` is one emulated host with a boot dir and the
script; its own set-up and reads run ngsim in this process, the script's spawns are real.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import stat
import subprocess

from netgraph_core import nf_boot

from tests.support.nghost import run_ngsim, run_tool

REPO = pathlib.Path(__file__).resolve().parents[2]
RC_SCRIPT = REPO / "formula" / "netflow" / "files" / "default" / "netflow.rc"

# Modelled on FreeBSD's /etc/rc.subr (run_rc_command, checkyesno, load_rc_config); only
# what rc.d/netflow uses. RC_CONF names the file load_rc_config reads (rc.conf.d/<name>).
FAKE_RC_SUBR = r'''
warn() { echo "${0##*/}: WARNING: $*" >&2; }
err() { _e=$1; shift; echo "${0##*/}: ERROR: $*" >&2; exit "$_e"; }
checkyesno()
{
	eval _value=\$${1}
	case $_value in
	[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;;
	[Nn][Oo]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Ff][Ff]|0) return 1 ;;
	*) warn "\$${1} is not set properly - see rc.conf(5)."; return 1 ;;
	esac
}
load_rc_config()
{
	if [ -n "${RC_CONF}" ] && [ -r "${RC_CONF}" ]; then
		. "${RC_CONF}"
	fi
}
run_rc_command()
{
	rc_arg=$1
	_rc_prefix=
	case "$rc_arg" in
	fast*) _rc_prefix=fast; rc_arg=${rc_arg#fast} ;;
	force*) _rc_prefix=force; rc_arg=${rc_arg#force} ;;
	one*) _rc_prefix=one; rc_arg=${rc_arg#one} ;;
	quiet*) _rc_prefix=quiet; rc_arg=${rc_arg#quiet} ;;
	esac
	# rc.subr: every command but "rcvar" (and "stop" of a daemon with a pid; this
	# script runs no daemon, so it has none) needs ${rcvar} YES unless prefixed "one".
	if [ -n "$rcvar" ] && [ "$rc_arg" != rcvar ] && [ "$_rc_prefix" != one ] && [ "$_rc_prefix" != force ]; then
		if ! checkyesno "$rcvar"; then
			echo "Cannot '${rc_arg}' $name. Set ${rcvar} to YES in /etc/rc.conf or use 'one${rc_arg}' instead of '${rc_arg}'."
			return 0
		fi
	fi
	case "$rc_arg" in
	restart)
		run_rc_command "${_rc_prefix}stop"
		run_rc_command "${_rc_prefix}start"
		return $?
		;;
	esac
	eval _cmd=\$${rc_arg}_cmd
	eval _precmd=\$${rc_arg}_precmd
	if [ -z "$_cmd" ]; then
		echo "Usage: $0 [fast|force|one|quiet](start|stop|restart|rcvar|status)" >&2
		return 1
	fi
	if [ -n "$_precmd" ]; then
		$_precmd || { warn "failed precmd routine for ${name}"; return 1; }
	fi
	$_cmd
}
'''

# FreeBSD's /sbin/sha256 reading stdin prints only the hex digest.
STANDIN_SHA256 = "#!/bin/sh\nsha256sum | cut -d' ' -f1\n"
# FreeBSD's lockf(1): lockf [-ks] [-t seconds] file command [arguments]; exit 75
# (EX_TEMPFAIL) when the lock is not obtained in time. util-linux flock(1) takes the same
# flock(2) lock.
STANDIN_LOCKF = r'''#!/bin/sh
timeout=
while getopts kst:nw opt; do
	case "$opt" in
	t) timeout=$OPTARG ;;
	k|s|n|w) ;;
	*) echo "usage: lockf [-knsw] [-t seconds] file command [arguments]" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
file=$1
shift
if [ -n "$timeout" ]; then
	exec flock -E 75 -w "$timeout" "$file" "$@"
fi
exec flock -E 75 "$file" "$@"
'''


def executable(path: pathlib.Path, text: str) -> pathlib.Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def write_standins(bindir: pathlib.Path) -> dict:
    """sha256 and lockf stand-ins in ``bindir``: {"sha256": path, "lockf": path}."""
    bindir.mkdir(parents=True, exist_ok=True)
    return {
        "sha256": str(executable(bindir / "sha256", STANDIN_SHA256)),
        "lockf": str(executable(bindir / "lockf", STANDIN_LOCKF)),
    }


def prepared_script(workdir: pathlib.Path) -> pathlib.Path:
    """The rc.d script, with /etc/rc.subr replaced by the stand-in, as WORKDIR/netflow."""
    workdir.mkdir(parents=True, exist_ok=True)
    subr = workdir / "rc.subr"
    subr.write_text(FAKE_RC_SUBR)
    text = RC_SCRIPT.read_text()
    assert text.count("\n. /etc/rc.subr\n") == 1
    script = workdir / "netflow"
    script.write_text(text.replace("\n. /etc/rc.subr\n", f"\n. {subr}\n"))
    return script


def rc_env(rc_conf: pathlib.Path, env: dict | None) -> dict:
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RC_CONF": str(rc_conf)}
    full_env.update(env or {})
    return full_env


def rc_command(arg: str, rc_conf: pathlib.Path, workdir: pathlib.Path, env: dict | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``rc.d/netflow ARG`` under the stand-in rc.subr, reading rc.conf.d from RC_CONF
    (raises subprocess.TimeoutExpired past ``timeout``)."""
    script = prepared_script(workdir)
    return subprocess.run(["sh", str(script), arg], capture_output=True, text=True, env=rc_env(rc_conf, env),
                          timeout=timeout)


def rc_popen(arg: str, rc_conf: pathlib.Path, workdir: pathlib.Path, env: dict | None = None) -> subprocess.Popen:
    """``rc_command`` started, not waited for (a test that kills it or runs beside it)."""
    script = prepared_script(workdir)
    return subprocess.Popen(["sh", str(script), arg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=rc_env(rc_conf, env))


# --------------------------------------------------------------------------------------
# Boot scripts (as nf_plan.build_script makes them; literal so these tests do not move
# with the planner)
# --------------------------------------------------------------------------------------
TWO_V9 = [  # the v9 fan-out to two collectors, as nf_plan builds it
    "mkpeer lan_nf: one2many export9 one",
    "name lan_nf:export9 lan_v9",
    "mkpeer lan_v9: ksocket many0 inet/dgram/udp",
    "name lan_v9:many0 lan_v9_0",
    "mkpeer lan_v9: ksocket many1 inet/dgram/udp",
    "name lan_v9:many1 lan_v9_1",
    "msg lan_v9_0: connect inet/192.0.2.10:2055",
    "msg lan_v9_1: connect inet/192.0.2.11:2055",
    "msg lan_v9: setconfig { xmitAlg=2 failAlg=1 enabledLinks=[ 1 1 ] }",
]
LAN = {  # em0 both, em1 ingress, vlan0.100 egress; two v9 collectors (one2many fan-out)
    "ngctl": [
        "mkpeer em0: netflow lower iface0",
        "name em0:lower lan_nf",
        "connect em0: lan_nf: upper out0",
        "connect em1: lan_nf: lower iface1",
        "connect em1: lan_nf: upper out1",
        "connect vlan0_100: lan_nf: lower iface2",
        "connect vlan0_100: lan_nf: upper out2",
        "msg lan_nf: setconfig { iface=0 conf=11 }",
        "msg lan_nf: setconfig { iface=1 conf=9 }",
        "msg lan_nf: setconfig { iface=2 conf=10 }",
        *TWO_V9,
    ],
    "modules": ["netgraph", "ng_socket", "ng_ether", "ng_netflow", "ng_ksocket", "ng_one2many"],
    "ipfw": [],
    "attach": ["em0", "em1", "vlan0_100"],
}
LAN_IPFW = {  # em0, vlan0.100, tun0 through ipfw (hook and rule 1000); two v9 collectors
    "ngctl": [
        "mkpeer em0: netflow lower iface0",
        "name em0:lower lan_nf",
        "connect em0: lan_nf: upper out0",
        "connect vlan0_100: lan_nf: lower iface1",
        "connect vlan0_100: lan_nf: upper out1",
        "connect ipfw: lan_nf: 1000 iface2",
        "msg lan_nf: setconfig { iface=0 conf=11 }",
        "msg lan_nf: setconfig { iface=1 conf=11 }",
        "msg lan_nf: setdlt { iface=2 dlt=12 }",
        "msg lan_nf: setconfig { iface=2 conf=9 }",
        *TWO_V9,
    ],
    "modules": ["netgraph", "ng_socket", "ng_ether", "ng_netflow", "ng_ksocket", "ng_one2many", "ng_ipfw"],
    "ipfw": ["add 1000 ngtee 1000 ip from any to any via tun0"],
    "attach": ["em0", "vlan0_100"],
}
TUN = {  # em2, tun0 through ipfw (hook 2000, rule 2100); one v5 collector
    "ngctl": [
        "mkpeer em2: netflow lower iface0",
        "name em2:lower tun_nf",
        "connect em2: tun_nf: upper out0",
        "connect ipfw: tun_nf: 2000 iface1",
        "msg tun_nf: setconfig { iface=0 conf=11 }",
        "msg tun_nf: setdlt { iface=1 dlt=12 }",
        "msg tun_nf: setconfig { iface=1 conf=9 }",
        "mkpeer tun_nf: ksocket export inet/dgram/udp",
        "name tun_nf:export tun_v5",
        "msg tun_v5: connect inet/198.51.100.5:9995",
    ],
    "modules": ["netgraph", "ng_socket", "ng_ether", "ng_netflow", "ng_ksocket", "ng_ipfw"],
    "ipfw": ["add 2100 ngtee 2000 ip from any to any via tun0"],
    "attach": ["em2"],
}
IFACES = ("em0", "em1", "em2", "em3", "vlan0.100", "tun0")  # em3: attached by no boot file
OUR_TYPES = ("netflow", "ksocket", "one2many")


def _sq(value: str) -> str:
    assert "'" not in value
    return f"'{value}'"


def ngsim_cli(*args: str) -> str:
    """``python -m ngsim ARGS`` (in this process: the test's own set-up and reads)."""
    return run_ngsim(*args)


class RcHost:
    """An emulated FreeBSD host (ngsim) after a fresh boot, with a boot dir, the rc.d
    script, its rc.conf.d file and the sha256/lockf stand-ins."""

    def __init__(self, base: pathlib.Path, ifaces=IFACES, firewall: bool = True):
        self.base = base
        self.root = base / "host"
        args = ["init", str(self.root)]
        for iface in ifaces:
            args += ["--iface", iface]
        ngsim_cli(*args)
        if firewall:  # what rc.d/ipfw does with firewall_enable=YES firewall_type=open
            self.run_bin("kldload", "ipfw")
            self.run_bin("ipfw", "-q", "add", "65000", "allow", "ip", "from", "any", "to", "any")
        self.tools = write_standins(base / "tools")
        self.boot_dir = base / "boot dir"  # a space, to prove the quoting
        self.boot_dir.mkdir()
        self.rc_conf = base / "rc.conf.d" / "netflow"
        self.rc_conf.parent.mkdir()
        self.lock = base / "run" / "netflow.lock"
        self.lock.parent.mkdir()
        self.workdir = base / "rc"
        self.configure()
        self.clear_log()

    # --- files -----------------------------------------------------------------------
    def configure(self, enable: str = "YES", **extra: str) -> None:
        values = {
            "netflow_enable": enable,
            "netflow_boot_dir": str(self.boot_dir),
            "netflow_ngctl": str(self.root / "bin" / "ngctl"),
            "netflow_kldload": str(self.root / "bin" / "kldload"),
            "netflow_kldstat": str(self.root / "bin" / "kldstat"),
            "netflow_ipfw": str(self.root / "bin" / "ipfw"),
            "netflow_sha256": self.tools["sha256"],
            "netflow_lockf": self.tools["lockf"],
            "netflow_lock": str(self.lock),
        }
        values.update(extra)
        self.rc_conf.write_text("".join(f"{k}={_sq(v)}\n" for k, v in values.items()))

    def write(self, name: str, script: dict) -> pathlib.Path:
        path = self.boot_dir / f"{name}.ngctl"
        path.write_text(nf_boot.render(name, script))
        return path

    # --- running ---------------------------------------------------------------------
    def rc(self, arg: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return rc_command(arg, self.rc_conf, self.workdir, env=env, timeout=timeout)

    def rc_background(self, arg: str) -> subprocess.Popen:
        return rc_popen(arg, self.rc_conf, self.workdir)

    def run_bin(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = run_tool(self.root, tool, *args)
        if check:
            assert proc.returncode == 0, f"{tool} {args}: {proc.stderr}"
        return proc

    def ngctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run_bin("ngctl", *args, check=check)

    # --- reading ---------------------------------------------------------------------
    def log(self) -> list[dict]:
        return [json.loads(line) for line in ngsim_cli("log", str(self.root)).splitlines() if line.strip()]

    def clear_log(self) -> None:
        ngsim_cli("log", str(self.root), "--clear")

    def mutating(self) -> list[dict]:
        return [e for e in self.log() if e.get("mutating")]

    def nodes(self) -> list[tuple[str, str, str]]:
        """(name, type, id) of every node but ngctl's own sockets."""
        out = []
        for line in self.ngctl("list").stdout.splitlines():
            m = re.match(r"\s*Name: (\S+)\s+Type: (\S+)\s+ID: ([0-9a-f]+)", line)
            if m and m[2] != "socket":
                out.append((m[1], m[2], m[3]))
        return out

    def named(self) -> dict:
        return {n: t for n, t, _ in self.nodes() if n != "<unnamed>"}

    def ours(self) -> list[tuple[str, str, str]]:
        """Nodes of the types an exporter is made of."""
        return [n for n in self.nodes() if n[1] in OUR_TYPES]

    def links(self) -> dict:
        return json.loads(ngsim_cli("links", str(self.root)))

    def ipfw_rules(self) -> list[str]:
        return self.run_bin("ipfw", "list").stdout.splitlines()

    def fail_at(self, n: int) -> None:
        ngsim_cli("fail", str(self.root), "--at", str(n))


def all_pass(host: RcHost) -> bool:
    return set(host.links().values()) == {"pass"}
