#!/usr/bin/env python3
"""The demo (`make demo`): the netflow formula applied to an emulated FreeBSD host.

1. makes an emulated FreeBSD host under .demo/host (ngsim: em0, em1, vlan0.100, tun0; no
   netgraph module loaded, as after a fresh boot: the state loads what it needs) whose
   firewall is up as rc.d/ipfw leaves it with firewall_enable=YES, firewall_type=open
   (pillar.example attaches tun0 through ipfw, which needs ipfw loaded and set up: a bare
   ipfw.ko denies all traffic);
2. writes a minion config for `salt-call --local` under .demo/salt (every path inside
   .demo: no root, no /etc, no /var: pillar.example's boot_dir, rc.d paths and lock file
   are replaced by paths under .demo/salt), with pillar.example as the pillar;
3. previews on that fresh host: `salt-call --local state.apply netflow test=True` (the
   full plan, planned against the graph as it will be once ng_ether and ng_ipfw are
   loaded: nothing is loaded or changed) and the plan pictures
   .demo/graph-plan-<exporter>.svg (`netflow.plan`'s DOT: what the apply adds in green);
4. runs `salt-call --local state.apply netflow` (Salt's normal state output) and fails
   unless the ngctl lines, ipfw rules and modules it ran (ngsim's log) are exactly those
   the preview listed (one ngctl batch for the whole host, each exporter's lines in the
   batch's order); then again, and fails unless the second run changes nothing;
5. shows the graph: `netgraph.show <exporter>_nf:` for every exporter, `ngsim links`, the
   boot files, and pictures .demo/graph-after.svg (`netflow.dot`: our nodes filled) and
   .demo/ngctl-dot.svg (ngctl's own `dot`), and fails unless each plan picture has exactly
   the links of the applied graph; .dot files only when graphviz's `dot` is not installed.

Run it with the interpreter that has Salt and this project installed (make demo uses
.venv/bin/python); `salt-call` is looked up next to that interpreter.

`write_minion_config()` is reused by tests/functional/formula/test_formula.py.
"""
from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
IFACES = ("em0", "em1", "vlan0.100", "tun0")
HOST_STATE = "netflow-exporter-netflow-exporters_present"  # exporter.sls: one state for the host


def salt_call_exe() -> str:
    exe = pathlib.Path(sys.executable).parent / "salt-call"
    if exe.exists():
        return str(exe)
    found = shutil.which("salt-call")
    if not found:
        sys.exit("salt-call not found next to %s nor on PATH: run `make demo`" % sys.executable)
    return found


def ngsim(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, capture_output=True, text=True)
    if check and proc.returncode:
        sys.exit(f"ngsim {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def make_host(root: pathlib.Path, ifaces=IFACES, loaded=()) -> pathlib.Path:
    if root.exists():
        shutil.rmtree(root)
    args = ["init", str(root)]
    for iface in ifaces:
        args += ["--iface", iface]
    for mod in loaded:
        args += ["--loaded", mod]
    ngsim(*args)
    return root


def firewall_up(host: pathlib.Path) -> None:
    """What rc.d/ipfw does at boot with firewall_enable=YES firewall_type=open."""
    for argv in (["kldload", "ipfw"], ["ipfw", "-q", "add", "65000", "allow", "ip", "from", "any", "to", "any"]):
        proc = subprocess.run([str(host / "bin" / argv[0]), *argv[1:]], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


def write_minion_config(
    base: pathlib.Path,
    host: pathlib.Path,
    pillar: dict | str,
    minion_id: str = "netflow-demo",
    lock_file: pathlib.Path | None = None,
) -> pathlib.Path:
    """Minion config for `salt-call --local -c CONFDIR` driving ngsim host `host`.

    Everything Salt writes goes under `base` (root_dir, cache, pki, log); the formula's
    host paths (boot_dir, rc.d script, rc.conf.d file and, when given, `lock_file`) go
    under `base`/etc via a second pillar file merged after the user's pillar (`pillar`: a
    dict, or the text of an SLS such as pillar.example). Returns CONFDIR.
    """
    confdir = base / "conf"
    pillar_dir = base / "pillar"
    etc = base / "etc"
    # rc.d and rc.conf.d exist on FreeBSD; made by file.managed's makedirs they would take the
    # rc.d script's mode 0555, and only root could then write into them
    for d in (confdir, pillar_dir, etc / "rc.d", etc / "rc.conf.d"):
        d.mkdir(parents=True, exist_ok=True)
    text = pillar if isinstance(pillar, str) else yaml.safe_dump(pillar, default_flow_style=False)
    (pillar_dir / "netflow.sls").write_text(text)
    paths = {
        "netflow": {
            "boot_dir": str(etc / "netflow"),
            "lookup": {
                "rc_script": str(etc / "rc.d" / "netflow"),
                "rc_conf_d": str(etc / "rc.conf.d" / "netflow"),
            },
        }
    }
    if lock_file is not None:
        paths["netflow"]["lock_file"] = str(lock_file)
    (pillar_dir / "host_paths.sls").write_text(yaml.safe_dump(paths, default_flow_style=False))
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - netflow\n    - host_paths\n")
    bin_ = host / "bin"
    config = {
        "id": minion_id,
        "file_client": "local",
        "root_dir": str(base / "root"),
        "log_file": str(base / "minion.log"),
        "log_level_logfile": "info",
        # formula/ is a complete file root (its _modules/_states/_utils links); the repository's
        # top level would add nothing but a file list walking .venv/ (about 1 s per listing)
        "file_roots": {"base": [str(REPO / "formula")]},
        "pillar_roots": {"base": [str(pillar_dir)]},
        "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
        "states_dirs": [str(REPO / "_states")],
        "netgraph.ngctl": str(bin_ / "ngctl"),
        "netgraph.kldload": str(bin_ / "kldload"),
        "netgraph.kldstat": str(bin_ / "kldstat"),
        "netgraph.ipfw": str(bin_ / "ipfw"),
        "netgraph.ifconfig": str(bin_ / "ifconfig"),
        # keep salt-call quick and self-contained on a laptop
        "grains_cache": True,
        "enable_fqdns_grains": False,
        "enable_gpu_grains": False,
    }
    (confdir / "minion").write_text(yaml.safe_dump(config, default_flow_style=False))
    return confdir


def salt_call(confdir: pathlib.Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    argv = [salt_call_exe(), "--local", "-c", str(confdir), "--retcode-passthrough", *args]
    return subprocess.run(argv, cwd=REPO, text=True, capture_output=capture)


def changed_states(result: dict) -> list[str]:
    return [sid for sid, r in result.items() if r.get("changes")]


def banner(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(3, 76 - len(text)), flush=True)


def write_picture(stem: pathlib.Path, text: str) -> None:
    """STEM.dot, and STEM.svg when graphviz's dot is installed."""
    gv = stem.with_suffix(".dot")
    gv.write_text(text)
    if not shutil.which("dot"):
        print(f"  {gv.relative_to(REPO)} (install graphviz for the .svg)")
        return
    svg = stem.with_suffix(".svg")
    out = subprocess.run(["dot", "-Tsvg", "-o", str(svg), str(gv)], text=True, capture_output=True)
    print(f"  {svg.relative_to(REPO)}" if out.returncode == 0 else f"  dot failed on {gv}: {out.stderr.strip()}")


def draw(confdir: pathlib.Path, stem: pathlib.Path, function: str, *args: str) -> str | None:
    proc = salt_call(confdir, function, *args, "--out=json", capture=True)
    if proc.returncode:
        print(f"  {function} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return None
    text = json.loads(proc.stdout)["local"]
    write_picture(stem, text)
    return text


_LINK_RE = re.compile(r'\t"(?P<a>[^"]+)" -- "(?P<b>[^"]+)" \[ label = "(?P<label>[^"]+)"(?P<rest>.*)')


def dot_links(text: str, name: str) -> set:
    """The links of exporter ``name``'s nodes in a picture of nf_dot (a plan's or the live
    graph's), without those a plan removes (red, dashed): ``{(node, node, "hook - hook")}``."""
    out = set()
    for line in text.splitlines():
        m = _LINK_RE.fullmatch(line)
        if m and "dashed" not in m.group("rest") and (m.group("a").startswith(f"{name}_") or m.group("b").startswith(f"{name}_")):
            out.add((m.group("a"), m.group("b"), m.group("label")))
    return out


def ran(host: pathlib.Path) -> dict:
    """What the host ran since its log was last cleared: ngctl batch lines (each -f batch's
    script, in order), ipfw rules added, modules loaded."""
    entries = [json.loads(line) for line in ngsim("log", str(host), "--clear").stdout.splitlines() if line.strip()]
    out = {"ngctl": [], "ipfw": [], "modules": []}
    for e in entries:
        tool = e.get("binary", e["argv"][0].rsplit("/", 1)[-1])
        if tool == "ngctl" and e["mutating"] and e.get("script"):
            out["ngctl"].append([line for line in e["script"].splitlines() if line.strip()])
        elif tool == "ipfw" and e["argv"][1:2] == ["add"]:
            out["ipfw"].append(" ".join(e["argv"][2:]))
        elif tool == "kldload":
            out["modules"] += [a for a in e["argv"][1:] if not a.startswith("-")]
    return out


def previewed(result: dict) -> dict:
    """The same three from a test=True run's changes. The formula's one host state
    (netflow.exporters_present) keys its changes by exporter: its ngctl batch is listed
    as each exporter's share of it (``[[lines of one exporter], ...]`` per batch)."""
    out = {"ngctl": [], "ipfw": [], "modules": []}
    for r in sorted(result.values(), key=lambda r: r.get("__run_num__", 0)):
        if r.get("__id__") != HOST_STATE:
            continue
        shares = [ch for _, ch in sorted((r.get("changes") or {}).items())]
        if any(ch.get("ngctl") for ch in shares):
            out["ngctl"].append([ch["ngctl"] for ch in shares if ch.get("ngctl")])
        for ch in shares:
            out["ipfw"] += (ch.get("ipfw") or {}).get("add", [])
            out["modules"] += [m for m in ch.get("modules", []) if m not in out["modules"]]
    return out


def same_run(done: dict, will: dict) -> bool:
    """``done`` (ran) is what ``will`` (previewed) listed: the same ipfw rules and modules,
    one ngctl batch per previewed one, holding exactly the lines of its exporters' shares,
    each share in the batch's order (a share may hold a line of a move it shares with the
    other exporter)."""
    if done["ipfw"] != will["ipfw"] or done["modules"] != will["modules"] or len(done["ngctl"]) != len(will["ngctl"]):
        return False
    for batch, shares in zip(done["ngctl"], will["ngctl"]):
        if len(set(batch)) != len(batch) or set(batch) != {line for share in shares for line in share}:
            return False
        for share in shares:
            lines = iter(batch)
            if not all(line in lines for line in share):  # a subsequence of the batch
                return False
    return True


def preview(confdir: pathlib.Path, demo: pathlib.Path, exporters: list, pillar: dict) -> dict | None:
    """Step 3: test=True on the fresh host (printed as Salt prints it, then read as JSON)
    and the plan pictures; returns what the preview says the apply will run, and the
    plan pictures."""
    banner("salt-call --local state.apply netflow test=True   (fresh boot: nothing loaded)")
    salt_call(confdir, "state.apply", "netflow", "test=True")
    proc = salt_call(confdir, "state.apply", "netflow", "test=True", "--out=json", capture=True)
    if proc.returncode:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        return None
    banner("pictures of the plans (netflow.plan on the fresh host)")
    pictures = {}
    for name in exporters:
        args = [f"{k}={json.dumps(v)}" for k, v in sorted((pillar[name] or {}).items()) if k != "persist"]
        plan = salt_call(confdir, "netflow.plan", name, *args, "--out=json", capture=True)
        if plan.returncode:
            print(f"  netflow.plan {name} failed: {plan.stderr.strip() or plan.stdout.strip()}")
            return None
        pictures[name] = json.loads(plan.stdout)["local"]["dot"]
        write_picture(demo / f"graph-plan-{name}", pictures[name])
    return {"will_run": previewed(json.loads(proc.stdout)["local"]), "pictures": pictures}


def main() -> int:
    demo = REPO / ".demo"
    if demo.exists():
        shutil.rmtree(demo)
    demo.mkdir()
    host = make_host(demo / "host")
    firewall_up(host)
    pillar_text = (REPO / "pillar.example").read_text()
    pillar = yaml.safe_load(pillar_text)["netflow"]["exporters"]
    exporters = sorted(pillar)
    # pillar.example's lock is /var/run/netflow.lock: the demo's goes under .demo too (no root)
    confdir = write_minion_config(demo / "salt", host, pillar_text, lock_file=demo / "salt" / "netflow.lock")
    print(f"Emulated FreeBSD host: {host} (interfaces {', '.join(IFACES)}; no netgraph module loaded;")
    print("  firewall up as rc.d/ipfw leaves it: ipfw.ko and `65000 allow ip from any to any`)")
    print(f"Minion config: {confdir / 'minion'}; pillar: pillar.example")

    seen = preview(confdir, demo, exporters, pillar)
    if seen is None:
        print("\nPREVIEW FAILED", file=sys.stderr)
        return 1
    ngsim("log", str(host), "--clear")  # the preview's own reads (none of them mutating)

    banner("salt-call --local state.apply netflow")
    first = salt_call(confdir, "state.apply", "netflow")
    if first.returncode:
        print(f"\nFIRST RUN FAILED (exit {first.returncode}); see {demo / 'salt' / 'minion.log'}", file=sys.stderr)
        return 1
    done = ran(host)
    if not same_run(done, seen["will_run"]):
        print(f"\nTHE APPLY RAN {done}\nBUT THE PREVIEW SAID {seen['will_run']}", file=sys.stderr)
        return 1
    print(f"\nThe apply ran exactly what test=True listed: {sum(map(len, done['ngctl']))} ngctl lines in "
          f"{len(done['ngctl'])} batches, ipfw {done['ipfw']}, modules {done['modules']}.")

    banner("salt-call --local state.apply netflow   (again: nothing may change)")
    second = salt_call(confdir, "state.apply", "netflow", "--out=json", capture=True)
    if second.returncode:
        print(second.stdout, second.stderr, file=sys.stderr)
        print(f"\nSECOND RUN FAILED (exit {second.returncode})", file=sys.stderr)
        return 1
    result = json.loads(second.stdout)["local"]
    for sid, r in sorted(result.items(), key=lambda kv: kv[1].get("__run_num__", 0)):
        print(f"  {'ok' if r['result'] else 'FAILED':6} {r['__id__']}: {r['comment']}")
    changed = changed_states(result)
    if changed:
        print(f"\nSECOND RUN CHANGED {changed}: the formula is not idempotent", file=sys.stderr)
        return 1
    print(f"Second run: {len(result)} states, no changes.")

    for name in exporters:
        banner(f"salt-call --local netgraph.show {name}_nf:")
        salt_call(confdir, "netgraph.show", f"{name}_nf:", "--out=yaml")

    banner(f"ngsim links {host}")
    print(ngsim("links", str(host)).stdout.strip())
    banner("ipfw list")
    print(subprocess.run([str(host / "bin" / "ipfw"), "list"], capture_output=True, text=True).stdout.rstrip())

    banner("boot files and rc.d (replayed at boot without Salt)")
    etc = demo / "salt" / "etc"
    for path in sorted(etc.rglob("*")):
        if path.is_file():
            print(f"  {path.relative_to(REPO)}")
    print((etc / "rc.conf.d" / "netflow").read_text().rstrip())

    banner("pictures after the apply")
    after = draw(confdir, demo / "graph-after", "netflow.dot", ",".join(exporters))
    draw(confdir, demo / "ngctl-dot", "netgraph.dot")  # ngctl's own `dot`, as FreeBSD prints it
    for name in exporters:
        planned, applied = dot_links(seen["pictures"][name], name), dot_links(after or "", name)
        if planned != applied:
            print(f"\nPLAN PICTURE OF {name} DIFFERS FROM THE APPLIED GRAPH: planned only {sorted(planned - applied)}, "
                  f"applied only {sorted(applied - planned)}", file=sys.stderr)
            return 1
    print(f"  each plan picture has exactly the links of the applied graph ({', '.join(exporters)})")
    print("\nDemo OK: the preview listed what the apply ran, converged in one run, second run changed nothing.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
