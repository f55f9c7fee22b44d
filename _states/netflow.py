"""
Manage NetFlow exporters built from FreeBSD netgraph nodes (``ng_netflow``).

The state reads the live graph, compares it with what is declared, and applies only the
difference in ONE ``ngctl -f -`` batch. Settings (timeouts, template, MTU, direction,
collector addresses) change in place with control messages, so the netflow node and its
flow cache survive. On a failure mid-batch it rolls back so every interface passes traffic.

.. code-block:: yaml

    lan-exporter:
      netflow.exporter_present:
        - name: lan
        - interfaces:
            em0: {}
            vlan0.100: {direction: egress}
        - collectors:
            - {host: 192.0.2.10, port: 2055}
            - {host: 192.0.2.11, port: 2055, version: 5}
        - timeouts: {active: 1800, inactive: 15}
        - persist: true

    old-exporter:
      netflow.exporter_absent:
        - name: old
"""
from __future__ import annotations

import os

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "netflow"


def __virtual__():
    if "netflow.plan" in __salt__:  # noqa: F821 - Salt dunder
        return __virtualname__
    return (False, "netflow state: the netflow execution module is not available")


def _ret(name: str) -> dict:
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _boot_dir() -> str:
    return __salt__["config.get"]("netflow:boot_dir", "/usr/local/etc/netflow")  # noqa: F821


def _persist_changes(name: str, script: dict | None) -> dict:
    """What persistence would change: boot files to write (script) or remove (None)."""
    base = os.path.join(_boot_dir(), name)
    files = {}
    if script is None:
        for ext in ("ngctl", "modules", "ipfw"):
            if os.path.exists(f"{base}.{ext}"):
                files[f"{base}.{ext}"] = None
        return files
    contents = {
        "ngctl": script["ngctl"],
        "modules": "".join(m + "\n" for m in script["modules"]),
        "ipfw": "".join(line + "\n" for line in script["ipfw"]),
    }
    for ext, text in contents.items():
        path = f"{base}.{ext}"
        try:
            with open(path, encoding="utf-8") as fh:
                old = fh.read()
        except OSError:
            old = None
        if old != text:
            files[path] = text
    return files


def _planned_changes(planned: dict, files: dict, files_key: str) -> dict:
    """The state's ``changes``: the readable diff, the ngctl lines, the boot files."""
    changes = dict(planned["changes"])
    if planned["commands"]:
        changes["ngctl"] = planned["commands_text"]
    if files:
        changes[files_key] = sorted(files)
    return changes


def _write_files(files: dict) -> None:
    for path, text in files.items():
        if text is None:
            os.unlink(path)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # atomic: rc.d never replays a half-written file


def exporter_present(
    name,
    interfaces=None,
    collectors=None,
    timeouts=None,
    template=None,
    mtu=None,
    persist=False,
    takeover=False,
    dot=False,
    **kwargs,
):
    """
    Ensure the NetFlow exporter ``name`` exists exactly as declared.

    name
        Exporter name (letters, digits, ``_``, ``-``; at most 25 characters). Node names
        ``<name>_nf``, ``<name>_v9``, ``<name>_v5``, ``<name>_v9_<i>`` are derived from it;
        only those are ever changed or removed.

    interfaces
        List of interface names, or mapping name -> ``{direction: both|ingress|egress,
        once: true, ifindex: N, attach: ether|ipfw, ipfw_hook: N, ipfw_rule: N}``.

    collectors
        List of ``{host: IPv4, port: N, version: 9|5}``.

    timeouts / template / mtu
        ``{active: 1800, inactive: 15}``, ``{time: 600, packets: 500}``, ``1500``.

    persist
        Write the boot files replayed by the formula's rc.d script.

    takeover
        Replace foreign nodes (e.g. an exporter built by hand or by an rc.d script) that
        hold the hooks this exporter needs, instead of refusing.

    dot
        With ``test=True``, also return the planned graph as Graphviz DOT under
        ``changes:dot`` (added parts green, removed parts red and dashed, our nodes filled).
    """
    ret = _ret(name)
    params = {"interfaces": interfaces, "collectors": collectors, "persist": persist, "takeover": takeover}
    for key, value in (("timeouts", timeouts), ("template", template), ("mtu", mtu)):
        if value is not None:
            params[key] = value
    unknown = sorted(k for k in kwargs if not k.startswith("__"))
    if unknown:
        ret.update(
            result=False,
            comment=f"Exporter {name}: unknown parameter(s) {unknown}; known: interfaces, collectors, "
            "timeouts, template, mtu, persist, takeover",
        )
        return ret
    test = __opts__.get("test", False)  # noqa: F821
    try:
        planned = __salt__["netflow.plan"](name, load_modules=not test, **params)  # noqa: F821
        script = __salt__["netflow.boot_script"](name, **params) if persist else None  # noqa: F821
    except (SaltInvocationError, CommandExecutionError) as exc:
        ret.update(result=False, comment=f"Exporter {name}: {exc}")
        return ret

    files = _persist_changes(name, script) if persist else {}
    changes = _planned_changes(planned, files, "boot_files")
    if not changes:
        ret["comment"] = f"Exporter {name} is in the declared state"
        return ret
    if test:
        if dot:
            changes["dot"] = planned.get("dot", "")
        ret.update(result=None, changes=changes)
        ret["comment"] = f"Exporter {name} would change ({len(planned['commands'])} ngctl command(s))"
        if planned.get("incomplete"):
            ret["comment"] += (
                f"; modules {planned['modules']} are not loaded, so interfaces and the rest of "
                "the plan cannot be read until they are"
            )
        return ret

    try:
        __salt__["netflow.apply_plan"](name, planned)  # noqa: F821
    except CommandExecutionError as exc:
        ret.update(result=False, comment=f"Exporter {name}: {exc.error if hasattr(exc, 'error') else exc}")
        ret["changes"] = {"rollback": (exc.info or {}).get("rollback", [])} if getattr(exc, "info", None) else {}
        return ret

    # Re-read: the graph must now match; a mismatch is a failure, not a success.
    try:
        again = __salt__["netflow.plan"](name, **params)  # noqa: F821
    except (SaltInvocationError, CommandExecutionError) as exc:
        ret.update(result=False, changes=changes, comment=f"Exporter {name}: applied, but re-reading failed: {exc}")
        return ret
    if again["commands"] or again["ipfw"]["delete"] or again["ipfw"]["add"]:
        ret.update(
            result=False,
            changes=changes,
            comment=f"Exporter {name}: applied, but the graph still differs: {again['commands_text'] or again['ipfw']}",
        )
        return ret
    if files:
        try:
            _write_files(files)
        except OSError as exc:
            ret.update(result=False, changes=changes, comment=f"Exporter {name}: graph applied, boot files not written: {exc}")
            return ret
    ret["changes"] = changes
    ret["comment"] = f"Exporter {name} updated ({len(planned['commands'])} ngctl command(s) in one batch)"
    return ret


def exporter_absent(name, persist=True, **kwargs):
    """
    Ensure the NetFlow exporter ``name`` is gone: its nodes shut down (ng_ether interfaces
    pass traffic again), its ipfw tee rules deleted, and its boot files removed.

    name
        Exporter name, as given to ``exporter_present``.
    """
    ret = _ret(name)
    test = __opts__.get("test", False)  # noqa: F821
    try:
        planned = __salt__["netflow.absent_plan"](name)  # noqa: F821
    except (SaltInvocationError, CommandExecutionError) as exc:
        ret.update(result=False, comment=f"Exporter {name}: {exc}")
        return ret
    files = _persist_changes(name, None) if persist else {}
    changes = _planned_changes(planned, files, "boot_files_removed")
    if not changes:
        ret["comment"] = f"Exporter {name} is already absent"
        return ret
    if test:
        ret.update(result=None, changes=changes, comment=f"Exporter {name} would be removed")
        return ret
    try:
        __salt__["netflow.apply_plan"](name, planned)  # noqa: F821
        _write_files(files)
    except (CommandExecutionError, OSError) as exc:
        ret.update(result=False, comment=f"Exporter {name}: {exc}")
        return ret
    again = __salt__["netflow.absent_plan"](name)  # noqa: F821
    if again["commands"] or again["ipfw"]["delete"]:
        ret.update(result=False, changes=changes, comment=f"Exporter {name}: nodes remain: {again['commands_text']}")
        return ret
    ret.update(changes=changes, comment=f"Exporter {name} removed")
    return ret
