"""``salt-call --local state.apply`` of the formula in this process: the minion that
demo/run.py's ``write_minion_config`` describes (the same minion config, the same two
pillar files merged as their top file orders them), with Salt's own renderers and state
engine (tests/support/simhost.py) and every spawn through the in-process kernel adapter
(tests/support/kernel.py).

The formula matrices (hostile pillar keys and paths, typos) run here: one case costs a
render and a state run instead of a ``salt-call`` process (1.3-1.9 s). Each of them keeps
one case through the real ``salt-call`` (tests/functional/formula/), which proves the rest of
that path (the CLI, the minion config read from disk, the pillar files rendered, the retcode).
"""
from __future__ import annotations

import copy
import os
import pathlib

import yaml

from ngsim import state as ngstate

from tests.support.simhost import REPO, SimHost, ngsim

DEMO_IFACES = ("em0", "em1", "vlan0.100", "tun0")  # demo/run.py's IFACES
TOOLS = ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig")  # the netgraph.* keys the demo's config sets


class LocalMinion(SimHost):
    """demo/run.py's minion on an emulated host under ``base/host``; Salt writes under
    ``base/salt``, the formula's host paths (pillar ``host_paths``) under ``base/salt/etc``."""

    def __init__(self, base: str | os.PathLike, ifaces=DEMO_IFACES, minion: dict | None = None):
        self.salt = pathlib.Path(base) / "salt"
        self.etc = self.salt / "etc"
        self.minion_extra = dict(minion or {})
        super().__init__(base, ifaces=ifaces)

    def _init_host(self) -> None:
        """demo.make_host: ``ngsim init`` with the interfaces, nothing loaded, no firewall."""
        args = ["init", str(self.root)]
        for iface in self.ifaces:
            args += ["--iface", iface]
        assert ngsim(*args) == 0
        open(ngstate.log_path(str(self.root)), "w").close()

    def host_paths(self) -> dict:
        """The second pillar file of demo.write_minion_config (host_paths.sls)."""
        return {"netflow": {"boot_dir": str(self.etc / "netflow"),
                            "lookup": {"rc_script": str(self.etc / "rc.d" / "netflow"),
                                       "rc_conf_d": str(self.etc / "rc.conf.d" / "netflow")}}}

    def opts(self) -> dict:
        """demo.write_minion_config's minion config (with ``minion`` on top)."""
        import salt.config

        opts = salt.config.minion_config(None)
        opts.update({
            "id": "netflow-demo", "file_client": "local", "root_dir": str(self.salt / "root"),
            "cachedir": str(self.cachedir), "pki_dir": str(self.salt / "pki"), "sock_dir": str(self.salt / "sock"),
            # formula/ alone: the demo's second root (the repository, for salt://_modules) serves
            # none of the formula's files, and listing it would walk .venv at every render
            "file_roots": {"base": [str(REPO / "formula")]}, "pillar_roots": {"base": []},
            "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
            "states_dirs": [str(REPO / "_states")],
            "extension_modules": str(self.cachedir / "extmods"),
            "grains_cache": False, "state_verbose": True, "test": False,
        })
        for tool in TOOLS:
            opts[f"netgraph.{tool}"] = str(self.root / "bin" / tool)
        opts.update(self.minion_extra)
        return opts

    def apply_pillar(self, netflow_sls: dict, host_paths: dict | None = None) -> None:
        """Pillar as salt-call compiles it from the two files: each read back by Salt's YAML
        loader (what a ``#!yaml`` file gives), merged in top-file order."""
        import salt.utils.dictupdate
        import salt.utils.yaml

        merged: dict = {}
        for data in (netflow_sls, self.host_paths() if host_paths is None else host_paths):
            text = yaml.safe_dump(data, default_flow_style=False)
            merged = salt.utils.dictupdate.merge(merged, salt.utils.yaml.safe_load(text), strategy="smart",
                                                 merge_lists=False)
        self.set_pillar(merged)

    def state_apply(self, sls: str = "netflow", test: bool = False) -> tuple[int, object]:
        """(retcode as ``salt-call --retcode-passthrough`` gives it, output): 0 when every
        state succeeded, 2 when one failed, 1 with the render errors as a list."""
        self._render_cache.clear()
        ret = self.state_run(sls, test=test)
        if "__render__" in ret:
            return 1, [ret["__render__"]["comment"]]
        return (0 if all(r["result"] is not False for r in ret.values()) else 2), copy.deepcopy(ret)

    def written(self) -> list[str]:
        """Every file the formula wrote under the host paths."""
        return written_under(self.etc)


def written_under(etc) -> list[str]:
    """Every path under ``etc`` (relative), but the empty ``rc.d``/``rc.conf.d`` that the demo's
    minion config makes beforehand, as a FreeBSD host has them (demo/run.py)."""
    if not etc.exists():
        return []
    made = {etc / "rc.d", etc / "rc.conf.d"}
    return sorted(str(p.relative_to(etc)) for p in etc.rglob("*") if not (p in made and not any(p.iterdir())))
