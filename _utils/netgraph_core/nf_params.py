"""An exporter's parameters (pure; no Salt): the values from FreeBSD's
``sys/netgraph/netflow/ng_netflow.h`` and ``netflow_v9.h``, the export-version and
address-family tables, the errors, and ``validate``, which checks and normalises what a
pillar entry may say, every error kept and named by its key. ``nf_model`` builds the
desired graph from the result and is the model's one name for callers: it re-exports these.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from . import nf_sockaddr
from .ng_words import ether_node_name, shown

# --------------------------------------------------------------------------------------
# Constants (values from FreeBSD's sys/netgraph/netflow/ng_netflow.h and netflow_v9.h)
# --------------------------------------------------------------------------------------
CONF_INGRESS = 0x01
CONF_EGRESS = 0x02
CONF_THISONCE = 0x08
DLT_EN10MB = 1
DLT_RAW = 12
DEFAULT_TIMEOUTS = {"inactive": 15, "active": 1800}
DEFAULT_TEMPLATE = {"time": 600, "packets": 500}
DEFAULT_MTU = 1500
MIN_MTU, MAX_MTU = 24, 16384  # sizeof(struct netflow_v5_header) .. MAX_MTU in netflow_v9.h
MAX_COLLECTORS = 64  # ng_one2many: many0 .. many63

# Export versions: one row each. hook: ng_netflow's export hook (NG_NETFLOW_HOOK_EXPORT /
# _EXPORT9); suffix: our node's name part; info: the message that reports its settings
# (None: nothing beyond `info`); families: the FLOW families its records carry (v5 records
# are IPv4-only: netflow.c expire_flow adds a flow to the v5 datagram only when its version
# is IPVERSION; IPv6 flows go to export9 alone, template 259). The family of a collector's
# own address is another matter: the export is one UDP datagram, so a v5 collector may sit
# on an IPv6 address and a v9 one on IPv4 (FAMILIES below).
VERSIONS: dict[int, dict] = {
    9: {"hook": "export9", "suffix": "v9", "info": "v9info", "families": ("inet", "inet6")},
    5: {"hook": "export", "suffix": "v5", "info": None, "families": ("inet",)},
}
# Address families of collector sockets: one row each. hook: the ksocket hook name that
# makes the socket (ng_ksocket: <family>/<type>/<proto>; the protocol names are registered
# for PF_INET only, so IPv6 UDP is inet6/dgram/17, never inet6/dgram/udp); ip: the IP
# version of its addresses. The address words (nf_sockaddr.text): inet/A.B.C.D:PORT, and
# for inet6 the generic { len=28 family=28 data=[ ... ] } (no FreeBSD version has an inet6/
# word), exactly as getname/getpeername print them.
FAMILIES: dict[str, dict] = {
    "inet": {"hook": "inet/dgram/udp", "ip": 4},
    "inet6": {"hook": "inet6/dgram/17", "ip": 6},
}
KSOCKET_HOOK = FAMILIES["inet"]["hook"]
IPV_NAMES = {"inet": "IPv4", "inet6": "IPv6"}
EXPORT_HOOK = {v: row["hook"] for v, row in VERSIONS.items()}
SELF_DESTRUCTING = {"netflow", "ksocket", "one2many", "hub", "tee"}
# ng_ether and ng_ipfw survive `shutdown` (they revive: hooks cut, node kept); every other
# node is gone after it (docs/netgraph.md: ng_ether "Persistence"; ng_ipfw is persistent too).
PERSISTENT = {"ether", "ipfw"}
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,24}")
# FreeBSD interface names: IFNAMSIZ is 16 (15 characters). We accept the characters that
# interface drivers and `ifconfig name` use in practice; ':' is refused (netgraph path).
IFNAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,14}")
DIRECTIONS = {"both": CONF_INGRESS | CONF_EGRESS, "ingress": CONF_INGRESS, "egress": CONF_EGRESS}
PARAM_KEYS = {"interfaces", "collectors", "timeouts", "template", "mtu", "persist", "takeover"}
IFACE_KEYS = {"direction", "once", "ifindex", "attach", "ipfw_hook", "ipfw_rule"}
COLLECTOR_KEYS = {"host", "port", "version", "source", "minion", "family", "interface"}
# A collector named by its Salt minion id (resolved from the Salt mine, nf_resolve): the
# characters a minion id of a host name has; no glob or list character (*?[],@), so the id
# targets exactly one minion, and matched whole.
MINION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")


class ValidationError(ValueError):
    """Bad exporter parameters: every error found, each naming its key and value
    (``errors``); the message joins them with "; " on one line."""

    def __init__(self, errors):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))


class ConflictError(ValueError):
    """A hook the exporter needs is held by a node it does not own."""


# --------------------------------------------------------------------------------------
# Validation: every check runs, each error is kept (``collect_errors``), one ValidationError
# --------------------------------------------------------------------------------------
def collect_errors(errors: list, fn, *args, default=None):
    """``fn(*args)``, or ``default`` with its errors added to ``errors``."""
    try:
        return fn(*args)
    except ValidationError as exc:
        errors.extend(exc.errors)
        return default


def raise_errors(errors: list) -> None:
    if errors:
        raise ValidationError(errors)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(where: str, value: Any, lo: int, hi: int) -> int:
    if not _is_int(value):
        raise ValidationError(f"{where}: {shown(value)} is not an integer")
    if not lo <= value <= hi:
        raise ValidationError(f"{where}: {shown(value)} is out of range {lo}..{hi}")
    return value


# A mapping key that can be written after a '.' in an error message as it is; any other
# key (newline, ':', '$(...)', an int, None) is shown as [repr] so the message names it
# without carrying it.
_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def _key_path(base: str, key: Any) -> str:
    """``base.key`` for a plain key, ``base[<repr>]`` for anything else."""
    if isinstance(key, str) and _PLAIN_KEY_RE.fullmatch(key):
        return f"{base}.{key}"
    return f"{base}[{shown(key, 40)}]"


def _no_unknown_keys(where: str, mapping: dict, known) -> None:
    """Refuse keys outside ``known``, of any type (no sorting of mixed types, no hashing
    beyond what a dict key already is)."""
    bad = [key for key in mapping if not (isinstance(key, str) and key in known)]
    if bad:
        names = ", ".join(shown(key, 40) for key in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise ValidationError(f"{where}: unknown key(s) {names}; known: {', '.join(sorted(known))}")


def _one_of(where: str, value: Any, choices) -> str:
    """``value`` if it is one of the string ``choices`` (a list or a dict is no key)."""
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(f"{where}: {shown(value)} is not one of {', '.join(choices)}")
    return value


def owned_name_re(name: str) -> "re.Pattern[str]":
    """Every node name exporter ``name`` may own, and nothing another exporter may own."""
    return re.compile(r"%s_(nf|v9|v5|v9_\d+|v5_\d+)" % re.escape(name))


def _interface_items(raw: Any) -> list[tuple]:
    """(where, name, options) for each interface of the list or the mapping form."""
    if isinstance(raw, (list, tuple)):
        items = []
        for i, entry in enumerate(raw):
            if isinstance(entry, dict) and len(entry) == 1:
                (ifname, opts), = entry.items()  # YAML "- em0: {direction: ingress}"
                items.append((_key_path(f"interfaces[{i}]", ifname), ifname, opts))
            else:
                items.append((f"interfaces[{i}]", entry, None))
    elif isinstance(raw, dict):
        items = [(_key_path("interfaces", k), k, v) for k, v in raw.items()]
    else:
        raise ValidationError(f"interfaces: expected a list or a mapping of interface names, got {shown(raw)}")
    if not items:
        raise ValidationError("interfaces: at least one interface is required")
    return items


def _validate_interface(where: str, ifname: Any, opts: Any, hooks: set, rules: set) -> dict:
    errors: list = []
    if not isinstance(ifname, str) or not IFNAME_RE.fullmatch(ifname):
        errors.append(f"{where}: {shown(ifname)} is not a valid FreeBSD interface name "
                      "(a letter, then letters, digits, '_', '.', '-'; at most 15 characters)")
    if opts is None:
        opts = {}
    if not isinstance(opts, dict):
        raise ValidationError(errors + [f"{where}: options must be a mapping, got {shown(opts)}"])
    collect_errors(errors, _no_unknown_keys, where, opts, IFACE_KEYS)
    direction = collect_errors(errors, _one_of, f"{where}.direction", opts.get("direction", "both"), DIRECTIONS)
    once = opts.get("once", True)
    if not isinstance(once, bool):
        errors.append(f"{where}.once: {shown(once)} is not a boolean")
    ifindex = opts.get("ifindex")
    if ifindex is not None:
        collect_errors(errors, _int_in, f"{where}.ifindex", ifindex, 1, 65535)
    attach = collect_errors(errors, _one_of, f"{where}.attach", opts.get("attach", "ether"), ("ether", "ipfw"))
    hook = rule = None
    if attach == "ipfw":
        if "ipfw_hook" not in opts:
            errors.append(f"{where}.ipfw_hook: required with attach: ipfw (the ngtee cookie, 1..65534)")
        else:
            hook = collect_errors(errors, _int_in, f"{where}.ipfw_hook", opts["ipfw_hook"], 1, 65534)
        if "ipfw_rule" in opts:
            rule = collect_errors(errors, _int_in, f"{where}.ipfw_rule", opts["ipfw_rule"], 1, 65534)
        else:
            rule = hook
        for key, value, used in (("ipfw_hook", hook, hooks), ("ipfw_rule", rule, rules)):
            if value is not None and value in used:
                errors.append(f"{where}.{key}: {value} is used twice")
            elif value is not None:
                used.add(value)
    elif attach == "ether":
        errors += [f"{where}.{key}: only meaningful with attach: ipfw" for key in ("ipfw_hook", "ipfw_rule") if key in opts]
    raise_errors(errors)
    # ngtee'd packets all enter ifaceN: with attach ipfw the direction is the ipfw rule's.
    conf = (CONF_INGRESS if attach == "ipfw" else DIRECTIONS[direction]) | (CONF_THISONCE if once else 0)
    return {
        "name": ifname,
        "node": ether_node_name(ifname) if attach == "ether" else "ipfw",
        "attach": attach,
        "direction": direction,
        "once": once,
        "ifindex": ifindex,
        "ipfw_hook": hook,
        "ipfw_rule": rule,
        "conf": conf,
        "dlt": DLT_EN10MB if attach == "ether" else DLT_RAW,
    }


def _validate_interfaces(raw: Any) -> list[dict]:
    out, seen, hooks, rules, errors = [], set(), set(), set(), []
    for where, ifname, opts in _interface_items(raw):
        iface = collect_errors(errors, _validate_interface, where, ifname, opts, hooks, rules)
        if iface is None:
            continue
        if ether_node_name(ifname) in seen:  # vlan0.100 and vlan0_100 are one ng_ether node
            errors.append(f"{where}: interface {ifname!r} is listed twice")
        seen.add(ether_node_name(ifname))
        out.append(iface)
    raise_errors(errors)
    return out


def _address(where: str, value: Any, names: bool) -> tuple:
    """(family or None, host as kept): an IP literal in its one spelling, or (when
    ``names``) a host name, resolved later by the glue (:func:`resolve`)."""
    what = "an IP address or host name" if names else "an IP address"
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{where}: {shown(value)} is not {what}")
    try:
        found = nf_sockaddr.literal(value)
    except ValueError as exc:
        raise ValidationError(f"{where}: {shown(value)} {exc}") from None
    if found is not None:
        return found
    if names and nf_sockaddr.host_name(value):
        return None, value
    raise ValidationError(f"{where}: {shown(value)} is not {what}" + (
        " (a source is an address of this host; names are for collectors' hosts)"
        if not names and nf_sockaddr.host_name(value) else ""))


def source_errors(where: str, family, host: str, source) -> list:
    """The source against the host: one family (a socket has one), loopback with loopback."""
    if source is None or family is None:
        return []
    if source[0] != family:
        return [f"{where}.source: {source[1]!r} is {IPV_NAMES[source[0]]} but host {host!r} is {IPV_NAMES[family]}; "
                "a socket has one address family"]
    if ipaddress.ip_address(source[1]).is_loopback != ipaddress.ip_address(host).is_loopback:
        return [f"{where}.source: {source[1]!r} and host {host!r}: a loopback source reaches only a loopback "
                "collector, and a loopback collector only a loopback source"]
    return []



def _port_version_source(where: str, c: dict, errors: list) -> tuple:
    """A collector's (port, version, (family, source) or None), its errors added to ``errors``."""
    port = collect_errors(errors, _int_in, f"{where}.port", c.get("port"), 1, 65535)
    version = c.get("version", 9)
    if not _is_int(version) or version not in VERSIONS:
        errors.append(f"{where}.version: {shown(version)} is not 5 or 9")
    source = None
    if c.get("source") is not None:
        source = collect_errors(errors, _address, f"{where}.source", c["source"], False)
    return port, version, source


def _validate_collector(where: str, c: Any) -> dict:
    if not isinstance(c, dict):
        raise ValidationError(f"{where}: expected a mapping with host and port, got {shown(c)}")
    errors: list = []
    collect_errors(errors, _no_unknown_keys, where, c, COLLECTOR_KEYS)
    if "minion" in c:
        return _minion_collector(where, c, errors)
    errors += [f"{where}.{k}: only with minion (the choice of a minion's address)" for k in ("family", "interface")
               if k in c]
    family, host = collect_errors(errors, _address, f"{where}.host", c.get("host"), True, default=(None, None))
    port, version, source = _port_version_source(where, c, errors)
    if host is not None:
        errors += source_errors(where, family, host, source)
    raise_errors(errors)
    return {"host": host, "address": host if family else None, "family": family, "port": port,
            "version": version, "source": source[1] if source else None}


def _minion_collector(where: str, c: dict, errors: list) -> dict:
    """A collector named by minion id: ``{minion, port, version, source, family,
    interface}``, its address chosen later from the Salt mine (nf_resolve.resolve)."""
    minion, family, ifname = c["minion"], c.get("family"), c.get("interface")
    if "host" in c:
        errors.append(f"{where}: host and minion both given; a collector is one or the other")
    if not (isinstance(minion, str) and MINION_RE.fullmatch(minion)):
        errors.append(f"{where}.minion: {shown(minion)} is not a minion id (letters, digits, '.', '_', '-')")
    if family is not None:
        family = collect_errors(errors, _one_of, f"{where}.family", family, tuple(FAMILIES))
    if ifname is not None and not (isinstance(ifname, str) and IFNAME_RE.fullmatch(ifname)):
        errors.append(f"{where}.interface: {shown(ifname)} is not an interface name")
    port, version, source = _port_version_source(where, c, errors)
    if source and family and source[0] != family:
        errors.append(f"{where}.family: {family} but source {source[1]!r} is {IPV_NAMES[source[0]]}")
    raise_errors(errors)
    return {"host": minion, "address": None, "family": family or (source[0] if source else None), "port": port,
            "version": version, "source": source[1] if source else None, "minion": minion, "interface": ifname}


def duplicate_errors(collectors: list[dict]) -> list:
    errors, seen = [], set()
    for i, c in enumerate(collectors):
        key = (c["address"] or c["host"], c["port"], c["version"])
        if key in seen:
            shown_host = f"[{key[0]}]" if ":" in key[0] else key[0]
            errors.append(f"collectors[{i}]: collector {shown_host}:{c['port']} v{c['version']} is listed twice")
        seen.add(key)
    for v in VERSIONS:
        if sum(1 for c in collectors if c["version"] == v) > MAX_COLLECTORS:
            errors.append(f"collectors: more than {MAX_COLLECTORS} v{v} collectors (ng_one2many has many0..many63)")
    return errors


def _validate_collectors(raw: Any) -> list[dict]:
    if not isinstance(raw, (list, tuple)):
        raise ValidationError(f"collectors: expected a list of {{host, port, version}}, got {shown(raw)}")
    if not raw:
        raise ValidationError("collectors: at least one collector is required")
    errors: list = []
    out = [collect_errors(errors, _validate_collector, f"collectors[{i}]", c) for i, c in enumerate(raw)]
    raise_errors(errors)
    raise_errors(duplicate_errors(out))
    return out


def _validate_pair(where: str, raw: Any, defaults: dict, hi: int) -> dict:
    if raw is None:
        return dict(defaults)
    if not isinstance(raw, dict):
        raise ValidationError(f"{where}: expected a mapping with {' and '.join(defaults)}, got {shown(raw)}")
    errors: list = []
    collect_errors(errors, _no_unknown_keys, where, raw, defaults)
    out = dict(defaults)
    for key in defaults:
        if key in raw:
            out[key] = collect_errors(errors, _int_in, f"{where}.{key}", raw[key], 1, hi)
    raise_errors(errors)
    return out


def _check_params(params: dict, errors: list) -> None:
    """The exporter name, unknown and missing parameters, the flags."""
    name = params.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        errors.append(
            f"name: {shown(name)} is not a valid exporter name (a letter, then letters, digits, "
            "'_' or '-'; at most 25 characters, so that derived node names fit netgraph's 31)")
    unknown = [key for key in params if not (isinstance(key, str) and (key in PARAM_KEYS or key == "name"))]
    if unknown:
        names = ", ".join(shown(key, 40) for key in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        errors.append(f"unknown parameter(s) {names}; known: {', '.join(sorted(PARAM_KEYS))}")
    errors += [f"{key}: required" for key in ("interfaces", "collectors") if key not in params]
    errors += [f"{key}: {shown(params[key])} is not a boolean" for key in ("persist", "takeover")
               if key in params and not isinstance(params[key], bool)]


def validate(params: dict) -> dict:
    """Check and normalise exporter parameters; raise ValidationError naming every key
    at fault (all of them, not only the first).

    ``params`` holds ``name`` and the state's keyword arguments. The result is the
    normalised form every other function here takes. A collector whose ``host`` is a name
    has ``address`` None until :func:`resolve` (the glue's resolver) fills it in.
    """
    if not isinstance(params, dict):
        raise ValidationError(f"parameters: expected a mapping, got {shown(params)}")
    errors: list = []
    _check_params(params, errors)
    interfaces = collect_errors(errors, _validate_interfaces, params["interfaces"]) if "interfaces" in params else None
    collectors = collect_errors(errors, _validate_collectors, params["collectors"]) if "collectors" in params else None
    # uint32 in ng_netflow_settimeouts; 0 would disable expiry, so refuse it.
    timeouts = collect_errors(errors, _validate_pair, "timeouts", params.get("timeouts"), DEFAULT_TIMEOUTS, 2**32 - 1)
    # uint16 in ng_netflow_settemplate.
    template = collect_errors(errors, _validate_pair, "template", params.get("template"), DEFAULT_TEMPLATE, 65535)
    mtu = params.get("mtu")
    mtu = DEFAULT_MTU if mtu is None else collect_errors(errors, _int_in, "mtu", mtu, MIN_MTU, MAX_MTU)
    raise_errors(errors)
    return {
        "name": params["name"],
        "interfaces": interfaces,
        "collectors": collectors,
        "timeouts": timeouts,
        "template": template,
        "mtu": mtu,
        "persist": params.get("persist", False),
        "takeover": params.get("takeover", False),
    }
