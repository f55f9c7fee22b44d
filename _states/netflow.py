"""
Manage NetFlow exporters built from FreeBSD netgraph nodes (``ng_netflow``).

The state reads the live graph, compares it with what is declared, and applies only the
difference in ONE ``ngctl -f`` batch. Settings (timeouts, template, MTU, direction,
collector addresses) change in place with control messages, so the netflow node and its
flow cache survive. On a failure mid-batch it rolls back so every interface passes traffic.
The work is done by the ``netflow.converge`` execution function; this file only speaks
Salt's state contract (test mode, changes, comment).

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

import logging
import os.path

from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "netflow"

_KNOWN = ("interfaces", "collectors", "timeouts", "template", "mtu", "persist", "takeover", "dot")


def __virtual__():
    # Always loaded: netflow.refused needs nothing, and the formula renders it to say why
    # nothing ran, also when the execution module is missing (exporter_* then refuse).
    return __virtualname__


def _label(name) -> str:
    """The exporter's name for a comment: as it is when plain, else a short repr (a name
    may hold a newline or 2000 characters)."""
    if isinstance(name, str) and 0 < len(name) <= 40 and name.isascii() and name.isprintable() and " " not in name:
        return name
    text = repr(name)
    return text if len(text) <= 60 else text[:60] + "..."


def _guarded(name, run) -> dict:
    """``run()``, and whatever it raises as ``result: False`` with a one-line comment: a
    refused argument or a failed command as it is, anything else as an internal error
    (traceback in the debug log), never a traceback in the state output."""
    try:
        return run()
    except (SaltInvocationError, CommandExecutionError) as exc:
        comment = f"Exporter {_label(name)}: {exc}"
    except Exception as exc:  # pylint: disable=broad-except
        log.debug("netflow state: unexpected error for exporter %s", _label(name), exc_info=True)
        text = " ".join(str(exc).split())
        text = text if len(text) <= 200 else text[:200] + "..."
        comment = f"Exporter {_label(name)}: internal error: {type(exc).__name__}: {text}"
    return {"name": name, "changes": {}, "result": False, "comment": comment}


def _no_unknown(kwargs: dict, known) -> None:
    """Refuse keyword arguments the state does not take (Salt's own ``__*`` ones aside),
    each named by a short repr: a key may hold a newline, YAML or ``$(...)``."""
    unknown = [k for k in kwargs if not (isinstance(k, str) and k.startswith("__"))]
    if unknown:
        names = ", ".join(repr(k)[:40] for k in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise SaltInvocationError(f"unknown parameter(s) {names}; known: {', '.join(known)}")


# A first build is "created", not "updated" (``changes.exporter`` says which it is).
_CREATED = (("updated", "created"), ("would change", "would be created"))


def _worded(out: dict) -> str:
    """converge's comment, worded for a first build when ``changes.exporter`` is created."""
    comment = out.get("comment") or ""
    if isinstance(out.get("changes"), dict) and out["changes"].get("exporter") == "created":
        for old, new in _CREATED:
            if comment.startswith(old):
                return new + comment[len(old):]
    return comment


def _module_loaded(function: str) -> None:
    if function not in __salt__:
        raise CommandExecutionError("the netflow execution module is not loaded (it needs FreeBSD or an "
                                    "executable netgraph.ngctl)")


def _converge(name, declared: bool, persist, params: dict, dot=False) -> dict:
    """The one skeleton of both states: converge (or preview), then shape Salt's return."""
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    test = bool(__opts__.get("test", False))
    _module_loaded("netflow.converge")
    out = __salt__["netflow.converge"](name, declared=declared, test=test, persist=persist, dot=bool(dot and test), **params)
    ret.update(result=out["result"], changes=out["changes"], comment=f"Exporter {name} {_worded(out)}")
    if out["result"] is False:
        ret["comment"] = f"Exporter {name}: {out['comment']}"
    if test and dot and out["changes"] and "dot" in out["plan"]:
        ret["changes"]["dot"] = out["plan"]["dot"]
    return ret


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
        List of ``{host: H, port: N, version: 9|5, source: S}``: ``host`` an IPv4 or
        IPv6 address or a host name (resolved on the minion at apply time), ``source`` an
        optional address of this host of the same family to send from.

    timeouts / template / mtu
        ``{active: 1800, inactive: 15}``, ``{time: 600, packets: 500}``, ``1500``.

    persist
        Write the boot file replayed by the formula's rc.d script.

    takeover
        Replace foreign nodes (e.g. an exporter built by hand or by an rc.d script) that
        hold the hooks this exporter needs, instead of refusing.

    dot
        With ``test=True``, also return the planned graph as Graphviz DOT under
        ``changes:dot`` (added parts green, removed parts red and dashed, our nodes filled).
    """
    def run():
        _no_unknown(kwargs, _KNOWN)
        if not isinstance(dot, bool):
            raise SaltInvocationError(f"dot: {repr(dot)[:60]} is not a boolean")
        params = {"interfaces": interfaces, "collectors": collectors, "takeover": takeover}
        for key, value in (("timeouts", timeouts), ("template", template), ("mtu", mtu)):
            if value is not None:
                params[key] = value
        return _converge(name, True, persist, params, dot=dot)

    return _guarded(name, run)


def exporter_absent(name, persist=True, **kwargs):
    """
    Ensure the NetFlow exporter ``name`` is gone: its nodes shut down (ng_ether interfaces
    pass traffic again), its ipfw tee rules deleted, and its boot file removed.

    name
        Exporter name, as given to ``exporter_present``.
    """
    def run():
        _no_unknown(kwargs, ("persist",))
        return _converge(name, False, persist, {})

    return _guarded(name, run)


def refused(name, comment):
    """
    Always fail, changing nothing: how the formula says that pillar was refused (the
    comment names the key and why), in test mode too. Salt 3006's
    ``test.configurable_test_state`` has no ``allow_test_mode_failure``, and
    ``test.fail_without_changes`` drops the comment under ``test=True``.

    name
        What was refused, e.g. ``netflow:exporters:"lan"``.

    comment
        Why.

    .. code-block:: yaml

        netflow-exporter-netflow-refused-1:
          netflow.refused:
            - name: 'netflow:exporters:"lan"'
            - comment: 'unknown parameter key(s) "colectors"'
    """
    return {"name": name, "changes": {}, "result": False, "comment": str(comment)}


def exporters_present(name, exporters=None, absent=None, persist=False, **kwargs):
    """
    Ensure this host's NetFlow exporters are exactly as declared, all in ONE run: one
    read, one plan over every exporter, one ``ngctl -f`` batch, one rollback, one
    verification (``netflow.converge_host``). An interface moved from one exporter to
    another in one pillar change is one change (detached from the old exporter's
    netflow node and attached to the new one's on adjacent lines), whatever the
    exporters' names; ``exporter_present`` applied per exporter would refuse it when the
    gaining exporter came first.

    name
        The state's ID (any text; it names no exporter).

    exporters
        Mapping of exporter name -> its parameters, exactly ``exporter_present``'s
        keyword arguments: ``interfaces``, ``collectors``, ``timeouts``, ``template``,
        ``mtu``, ``takeover``, ``persist`` (overrides the state's ``persist`` for that
        exporter). An empty mapping (or None) declares no exporter. Refused before
        anything runs: any exporter's invalid parameter, one interface declared by two
        exporters, one ``ipfw_hook`` or ``ipfw_rule`` number declared by two.

    absent
        List of exporter names to remove (their nodes, ipfw rules and boot files), e.g.
        those recorded or with a boot file but no longer in the pillar. A name both in
        ``exporters`` and here is refused.

    persist
        Write each declared exporter's boot file (replayed by the rc.d script at boot).

    ``changes`` is keyed by exporter name, each as ``exporter_present`` reports it
    (``exporter: created|updated|removed``, ``interfaces``, ..., ``ngctl``: that
    exporter's lines of the one batch); after a failed batch, ``rollback``. Honours
    ``test=True``: the preview writes nothing.

    .. code-block:: yaml

        netflow-exporters:
          netflow.exporters_present:
            - exporters:
                lan: {interfaces: [em1], collectors: [{host: 192.0.2.10, port: 2055}]}
                wan: {interfaces: [em0], collectors: [{host: 192.0.2.10, port: 2056}]}
            - absent: [old]
            - persist: true
    """
    def run():
        _no_unknown(kwargs, ("exporters", "absent", "persist"))
        test = bool(__opts__.get("test", False))
        _module_loaded("netflow.converge_host")
        out = __salt__["netflow.converge_host"](exporters=exporters, absent=absent, test=test, persist=persist)
        comment = out["comment"] if out["result"] is not False else f"failed: {out['comment']}"
        return {"name": name, "changes": out["changes"], "result": out["result"], "comment": f"Exporters: {comment}"}

    ret = _guarded(name, run)
    if ret["result"] is False and ret["comment"].startswith("Exporter "):
        ret["comment"] = "Exporters" + ret["comment"][len(f"Exporter {_label(name)}"):]
    return ret


def _sub(out: dict, label: str, ret: dict) -> bool:
    """One step's state return folded into ``ret`` (its changes under ``label``); False
    when the step failed (the rest is not run)."""
    if out.get("changes"):
        ret["changes"][label] = out["changes"]
    if out.get("result") is None and ret["result"] is True:
        ret["result"] = None
    if out.get("result") is False:
        ret.update(result=False, comment=f"{label}: {out.get('comment')}")
        return False
    return True


def _collector_files(plan: dict, ret: dict) -> bool:
    user = plan["config"]["user"]
    for folder in plan["dirs"]:
        owner = {"user": user} if user else {}
        if not _sub(__states__["file.directory"](name=folder, makedirs=True, mode="0755", **owner), folder, ret):
            return False
    for path, text, mode in plan["files"]:
        if not _sub(__states__["file.managed"](name=path, contents=text, mode=mode, makedirs=True), path, ret):
            return False
    return True


def _collector_limits(plan: dict, raw: dict, ret: dict, test: bool) -> None:
    """nfexpire's limits in each directory, set when they differ from the declared ones
    (read only where nfexpire already keeps its stat file: ``-l`` would create one)."""
    for folder, _argv in plan["expire"]:
        stat = os.path.join(folder, ".nfstat")
        if os.path.exists(stat) and __salt__["nfcapd.limits"](folder, raw) == plan["limits"]:
            continue
        if not test:
            __salt__["nfcapd.set_limits"](folder, raw)
        ret["changes"][f"expire:{folder}"] = plan["limits"]
        ret["result"] = None if test else ret["result"]


def _collector_service(plan: dict, ret: dict, test: bool) -> None:
    """The service running and enabled, restarted when a file of it changed."""
    name = plan["service"]
    changed = any(path in ret["changes"] for path, _text, _mode in plan["files"])
    running = __states__["service.running"](name=name, enable=True)
    if not _sub(running, f"service {name}", ret) or not changed:
        return
    if test:
        ret["changes"].setdefault(f"service {name}", {})["restart"] = "would restart (its configuration changed)"
        ret["result"] = None
    elif not (running.get("changes") or {}).get(name):  # not just started by service.running
        __salt__["service.restart"](name)
        ret["changes"].setdefault(f"service {name}", {})["restart"] = True


def collector_present(name, config=None, **kwargs):
    """
    Ensure the NetFlow collector nfcapd (nfdump) runs as declared: its storage
    directories, its systemd unit (``/etc/systemd/system/nfcapd-netflow.service``) or on
    FreeBSD ``/etc/rc.conf.d/nfcapd`` and its rc.d script, nfexpire's limits, and the
    service running (restarted when its file changed). Install the ``nfdump`` package
    first (the formula's ``netflow.collector`` SLS does).

    name
        The state's ID (any text).

    config
        Pillar ``netflow:collector``: ``host`` (IP address to listen on), ``port``,
        ``storage``, ``rotation`` (seconds), ``expire: {max_life_hours, max_size_mb}``,
        ``user``, ``sources: {ident: {host: IP, dir: path}}`` or ``mine`` (docs/formula.md
        "Mine"), ``service`` (false: write the files, run nothing), the paths ``unit_file``, ``rc_conf_file``, ``rc_script``,
        ``nfcapd``, ``nfexpire``. Checked whole first (nfcapd.plan): a refused key is
        named and nothing is written. Honours ``test=True``.

    .. code-block:: yaml

        netflow-collector:
          netflow.collector_present:
            - config:
                port: 2055
                sources:
                  fw1: {host: 192.0.2.1}
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}

    def run():
        _no_unknown(kwargs, ("config",))
        if "nfcapd.plan" not in __salt__:
            raise CommandExecutionError("the nfcapd execution module is not loaded (run saltutil.sync_all)")
        raw = {} if config is None else config
        plan = __salt__["nfcapd.plan"](raw)
        test = bool(__opts__.get("test", False))
        if _collector_files(plan, ret):
            _collector_limits(plan, raw, ret, test)
            if plan["service"] and ret["result"] is not False:
                _collector_service(plan, ret, test)
        if ret["result"] is not False:
            what = "would change" if ret["changes"] and test else ("updated" if ret["changes"] else "as declared")
            service = f"service {plan['service']}" if plan["service"] else "no service (service: false)"
            ret["comment"] = f"Collector {what}: nfcapd {' '.join(plan['argv'][1:])}; {service}"
            mined = plan["config"].get("mine")
            if mined is not None:  # sources: mine: what the mine gave, and what it refused
                ret["comment"] += f"; from the mine: {len(mined['rows'])} exporter(s)" + "".join(
                    f"; skipped {why}" for why in mined["skipped"][:10])
        else:
            ret["comment"] = f"Collector: {ret['comment']}"
        return ret

    out = _guarded(name, run)
    if out["result"] is False and out["comment"].startswith("Exporter "):
        out["comment"] = "Collector" + out["comment"][len(f"Exporter {_label(name)}"):]
    out["changes"] = ret["changes"]  # what was done before a step raised is reported, not hidden
    return out
