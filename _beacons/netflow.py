"""
Beacon ``netflow``: notices when a NetFlow exporter silently stops.

At each interval it compares every exporter with a recorded declaration (the last
successful ``netflow.exporter_present``) with the live graph, in ONE ngctl spawn
(``netflow.watch``), and fires ``salt/beacon/<minion>/netflow/<exporter>`` when the
exporter drifts (an interface destroyed and re-created: a fresh ng_ether node with no
hooks; a node gone; a hook cut; a collector re-pointed; settings changed), when its health
degrades (failed exports rising, packets arriving unaccounted) or when an interface's
counter stalls. It is quiet while everything is as declared, and fires once per problem,
again only when the heal backoff allows the next heal.

Event data::

    {"exporter": "lan", "health": "degraded", "reasons": ["interface em0 is detached ..."],
     "drift": [{"kind": "interface_recreated", "interface": "em0", "node": "em0",
                "old_id": 1, "new_id": 18}],
     "interfaces": ["em0"], "collectors": [], "stalled": [],
     "heal": true, "attempt": 1, "retry_in": 60,
     "healed": true, "heal_comment": "updated (4 ngctl command(s) in one batch)", "id": "fw1"}

The heal happens HERE, on this minion, before the event is sent: ``heal: true`` means the
beacon ran ``netflow.heal`` (``converge`` to the exporter's recorded declaration) in this
interval, ``healed`` whether it succeeded. The event only reports. No reactor acts on it:
Salt authenticates the minion that sends a ``_minion_event`` load, not the tags and data of
its ``events`` (salt/daemons/masterapi.py), so a reactor acting on a beacon event would let
any minion aim a state run at any other (docs/DESIGN-NOTES.md, "The heal is the minion's
own"). A drift that persists is healed again after ``heal_backoff`` seconds, doubling up to
``heal_backoff_max``; the streak starts over once the exporter is seen healthy again.

Configuration (minion config or pillar), Salt's list form:

.. code-block:: yaml

    beacons:
      netflow:
        - interval: 10                  # seconds between two reads
        - disable_during_state_run: true
        - stall_intervals: 5            # intervals without a new packet (0: off)
        - heal: true                    # heal here (false: only report)
        - heal_backoff: 60
        - heal_backoff_max: 3600
        - exporters: [lan]              # default: every declared exporter
"""
import logging

log = logging.getLogger(__name__)

__virtualname__ = "netflow"
_CONTEXT_KEY = "netflow.beacon.state"
# Keys Salt's beacon machinery reads itself (salt/beacons/__init__.py).
SALT_KEYS = {"interval", "enabled", "disable_during_state_run", "beacon_module", "run_once", "_beacon_name"}
# Our keys: (low, high) for integers, bool, or "names" (a list of exporter names); the same
# table as _utils/netgraph_core/nf_watch.OPTIONS (tests/unit/core/test_nf_watch.py keeps the two equal).
OPTIONS = {
    "stall_intervals": (0, 100000),
    "heal_backoff": (1, 86400),
    "heal_backoff_max": (1, 604800),
    "heal": bool,
    "exporters": "names",
}
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def __virtual__():
    return __virtualname__


def _merged(config):
    """The list form as one mapping, Salt's own keys left out."""
    if not isinstance(config, list):
        raise ValueError("configuration for netflow beacon must be a list (Salt's beacon list form)")
    out = {}
    for item in config:
        if not isinstance(item, dict):
            raise ValueError(f"configuration for netflow beacon: {item!r} is not a mapping")
        out.update(item)
    return {k: v for k, v in out.items() if k not in SALT_KEYS}


def _is_name(value):
    return (isinstance(value, str) and 0 < len(value) <= 25 and value[0].isascii() and value[0].isalpha()
            and set(value) <= _NAME_CHARS)


def _check(key, value):
    rule = OPTIONS[key]
    if rule is bool:
        return isinstance(value, bool)
    if rule == "names":
        return isinstance(value, list) and all(_is_name(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool) and rule[0] <= value <= rule[1]


def validate(config):
    """(True, message) when ``config`` is a valid list-form configuration, else (False, why)."""
    try:
        opts = _merged(config)
    except ValueError as exc:
        return False, str(exc)
    unknown = sorted(str(k) for k in opts if k not in OPTIONS)
    if unknown:
        return False, f"netflow beacon: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(OPTIONS))})"
    for key, value in opts.items():
        if not _check(key, value):
            rule = OPTIONS[key]
            want = "true or false" if rule is bool else "a list of exporter names" if rule == "names" else \
                f"an integer {rule[0]}..{rule[1]}"
            return False, f"netflow beacon: {key}: {value!r} is not {want}"
    return True, "Valid beacon configuration"


def _heal(name):
    """Heal exporter ``name`` here (``netflow.heal``): what the event reports of it."""
    try:
        ret = __salt__["netflow.heal"](name)
    except Exception as exc:  # pylint: disable=broad-except - a raising beacon loses the interval's events
        log.error("netflow beacon: healing exporter %s failed: %s", name, exc)
        return {"healed": False, "heal_comment": str(exc)}
    if ret.get("result") is not True:
        log.error("netflow beacon: healing exporter %s failed: %s", name, ret.get("comment"))
    return {"healed": ret.get("result") is True, "heal_comment": str(ret.get("comment") or "")}


def beacon(config):
    """One interval: the events of ``netflow.watch``, each exporter marked ``heal``
    healed here first; the watch's state kept in ``__context__``."""
    opts = _merged(config)
    ret = __salt__["netflow.watch"](state=__context__.get(_CONTEXT_KEY) or {}, **opts)
    __context__[_CONTEXT_KEY] = ret.get("state") or {}
    for name, why in sorted((ret.get("errors") or {}).items()):
        log.warning("netflow beacon: exporter %s is not watched: %s", name, why)
    events = ret.get("events") or []
    for event in events:
        if event.get("heal") is True:
            event.update(_heal(event["exporter"]))
    return events
