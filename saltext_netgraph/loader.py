"""The ``salt.loader`` entry point: where Salt finds this extension's modules.

Salt's loader (``salt/loader/__init__.py``, ``_module_dirs``) calls an entry point that
is a function and, when it returns a dict, adds ``dict[ext_type]`` to the directories it
loads that kind of module from (``modules``, ``states``, ``beacons``, ``utils``, and on the
master ``runners``: ``salt.loader.runner`` asks with ext_type ``runners``, the key of
``runner_dirs``). The
utils directories are also put on ``sys.path`` while custom modules load, which is how
``_modules/netflow.py`` imports the core (``import nf_model``) when the modules are synced
from file_roots or found through ``utils_dirs``. Salt's utils loader does not ask entry
points (``load_extensions=False`` in ``salt.loader.utils``), so for the extension route
:func:`get_dirs` puts the packaged ``_utils`` directory on ``sys.path`` itself (once, in
the Salt process that asks for the directories, before any of our modules is loaded).
"""
from __future__ import annotations

import importlib.util
import os
import sys

# ext_type -> the package directory that holds the repository's _<ext_type>/ files
_KINDS = {"modules": "_modules", "states": "_states", "utils": "_utils", "beacons": "_beacons",
          "runners": "_runners"}


def _package_dir(sub: str) -> str | None:
    spec = importlib.util.find_spec(f"saltext_netgraph.{sub}")
    if spec is None or not spec.submodule_search_locations:
        return None
    for path in spec.submodule_search_locations:
        if os.path.isdir(path):
            return path
    return None


def get_dirs() -> dict[str, list[str]]:
    """``{"modules": [dir], "states": [dir], "utils": [dir], "beacons": [dir], "runners": [dir]}``."""
    dirs = {}
    for kind, sub in _KINDS.items():
        path = _package_dir(sub)
        if path:
            dirs[kind] = [path]
    for path in dirs.get("utils", []):
        if path not in sys.path:
            sys.path.append(path)
    return dirs
