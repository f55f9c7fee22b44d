"""The formula's rc.d script (formula/netflow/files/default/netflow.rc) run by ``sh`` on
Linux, as tests/unit/formula/test_rcd.py runs it: only the path of ``/etc/rc.subr`` is
replaced, by a stand-in keeping the parts of FreeBSD's rc.subr the script relies on;
FreeBSD's ``sha256`` and ``lockf`` are stand-ins over sha256sum and flock(1).

They live here once: tests/unit/formula/test_rcd.py, the formula's functional tests and
the simulation suite import them.
"""
from __future__ import annotations

import os
import pathlib
import stat
import subprocess

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
