"""Execution module for FreeBSD netgraph(4), driven through ngctl(8).

Every read returns plain data parsed from the text that FreeBSD's ``ngctl``,
``kldstat`` and ``ipfw`` print; every write runs one argv list (never a shell
string) after the arguments were validated. The parsers, validators and argv builders
are the pure core in ``_utils/netgraph_core/`` (``ng_text``, ``ng_ascii``, ``ng_words``,
``ng_ops``); this file is the Salt glue around them, and the one place that spawns.

The binaries are configurable (minion config or pillar, read with ``config.get``):
``netgraph.ngctl`` (default /usr/sbin/ngctl), ``netgraph.kldload`` (/sbin/kldload),
``netgraph.kldstat`` (/sbin/kldstat), ``netgraph.ipfw`` (/sbin/ipfw), ``netgraph.ifconfig``
(/sbin/ifconfig), ``netgraph.flowctl`` (/usr/sbin/flowctl); see ``nf_paths.PATHS``.

Every spawn is bounded by ``netgraph.timeout`` (s, 1..3600, default 60; the beacon's read by
``netgraph.watch_timeout``, 10): then killed, raising CommandExecutionError naming it.

The module loads where the ``kernel`` grain is ``FreeBSD`` or where the
configured ``netgraph.ngctl`` exists (for instance the ngsim emulator).
"""
import time

from netgraph_core import lazy, nf_paths, ng_ops, ng_snapshot, ng_text, ng_words
from salt.exceptions import CommandExecutionError, SaltInvocationError
nf_flows, ng_systext = lazy("nf_flows"), lazy("ng_systext")  # flowctl, ifconfig, kldstat, ipfw: at first use, not every call

__virtualname__ = "netgraph"
__func_alias__ = {"list_": "list"}


def __virtual__():
    grains = globals().get("__grains__") or {}
    opts = globals().get("__opts__") or {}
    pillar = globals().get("__pillar__") or {}
    ngctl = opts.get("netgraph.ngctl") or pillar.get("netgraph.ngctl")
    why = ng_ops.no_ngctl(grains.get("kernel"), ngctl, nf_paths.default("ngctl"))
    return __virtualname__ if why is None else (False, why)


def _binary(name):
    key, fallback = nf_paths.PATHS[name]
    try:
        return nf_paths.check_path(key, __salt__["config.get"](key, fallback))
    except ValueError as exc:  # a hostile netgraph.ngctl etc.: refused, nothing runs
        raise SaltInvocationError(str(exc)) from None


def _bound(kind="timeout"):
    """The time bound ``netgraph.timeout`` (or ``netgraph.watch_timeout``), validated."""
    key, fallback = nf_paths.TIMEOUTS[kind]
    return _arg(nf_paths.check_timeout, key, __salt__["config.get"](key, fallback), fallback)


def _spawn(tool, args, stdin=None, timeout=None):
    argv = [_binary(tool)] + [str(arg) for arg in args]
    bound = _bound() if timeout is None else timeout
    kwargs = {"python_shell": False, "ignore_retcode": True, "timeout": bound}
    if stdin is not None:
        kwargs["stdin"] = stdin
    started = time.monotonic()
    result = __salt__["cmd.run_all"](argv, **kwargs)
    if nf_paths.timed_out(result, bound, time.monotonic() - started):
        words = " ".join(str(a) for a in args[:4]) + (" ..." if len(args) > 4 else "")
        # no info=: Salt would print it into every comment that carries this error
        raise CommandExecutionError(f"{tool} ({argv[0]}) did not finish within {bound} s and was killed: {tool} {words}")
    return result


def _run(tool, args, stdin=None):
    result = _spawn(tool, args, stdin=stdin)
    if result.get("retcode"):
        raise CommandExecutionError(
            "{} {} failed: {}".format(tool, " ".join(str(a) for a in args), ng_ops.error_text(result)),
            info={"retcode": result.get("retcode"), "stderr": result.get("stderr", "")},
        )
    return result.get("stdout") or ""


def _arg(check, *args):
    """A pure core check, its ValueError as SaltInvocationError (the message names the argument)."""
    try:
        return check(*args)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None


def _parsed(parser, text, what):
    try:
        return parser(text)
    except ValueError as exc:
        raise CommandExecutionError(f"cannot parse the output of {what}: {exc}") from None


def list_():
    """List every netgraph node, as ``ngctl list`` prints them (ngctl's own socket
    node included).

    Returns a list of ``{"name", "type", "id", "num_hooks", "path"}``: ``id`` as
    ngctl prints it (``"0000004d"``), ``path`` the node's ngctl path by ID (``"[4d]:"``,
    usable as the ``path`` of ``show``, ``msg``...); unnamed nodes have ``name: None``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.list
    """
    return [ng_snapshot.as_ngctl_ids(node) for node in _parsed(ng_text.parse_list, _run("ngctl", ["list"]), "ngctl list")]


def show(path):
    """Show one node and its hooks (``ngctl show PATH``).

    path
        A netgraph address with a colon: ``em0:``, ``[2a]:``, ``netflow:export9``.

    Returns ``{"name", "type", "id", "num_hooks", "path", "hooks": [{"hook",
    "peer_name", "peer_type", "peer_id", "peer_hook", "peer_path"}]}``, IDs as ngctl
    prints them (``"0000004d"``) and paths by ID (``"[4d]:"``). A node that does not
    exist is an error; ``em0:`` before ng_ether is loaded says that ng_ether is not loaded.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.show em0:
    """
    _arg(ng_words.checked, "path", ng_words.check_path, path)
    result = _spawn("ngctl", ["show", path])
    if result.get("retcode"):
        error = ng_ops.error_text(result)
        if "No such file or directory" in error:
            try:
                known = [row["type"] for row in types()]
            except CommandExecutionError:
                known = ["ether"]  # cannot tell: ngctl's message as it is
            error = ng_snapshot.missing_node_error(path, error, known)
        raise CommandExecutionError(f"ngctl show {path} failed: {error}")
    return ng_snapshot.as_ngctl_ids(_parsed(ng_text.parse_show, result.get("stdout") or "", "ngctl show"))


def interfaces():
    """The Ethernet interfaces of the host (``ifconfig -l ether``: Ethernet, VLAN, lagg,
    bridge), in the kernel's order, each with the name of the node ng_ether gives it
    (``vlan0.100`` -> ``vlan0_100``), whether or not ng_ether is loaded yet:
    ``[{"name": "em0", "node": "em0"}, {"name": "vlan0.100", "node": "vlan0_100"}]``.
    The ifconfig binary is ``netgraph.ifconfig`` (default ``/sbin/ifconfig``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.interfaces
    """
    names = _parsed(ng_systext.parse_ifconfig_list, _run("ifconfig", ["-l", "ether"]), "ifconfig -l ether")
    return [{"name": ifname, "node": ng_words.ether_node_name(ifname)} for ifname in names]


def types():
    """List the netgraph node types the kernel knows (``ngctl types``), each as
    ``{"type": name, "nodes": number of living nodes}``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.types
    """
    return _parsed(ng_text.parse_types, _run("ngctl", ["types"]), "ngctl types")


def dot():
    """Return the whole graph as GraphViz text (``ngctl dot``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.dot
    """
    return _run("ngctl", ["dot"])


def msg(path, cmd, args=None):
    """Send a control message (``ngctl msg PATH CMD [ARGS]``) and return the parsed
    reply, or None when the message has no reply.

    path
        The node to send to, e.g. ``netflow_em0:`` or ``netflow_em0:export9``.
    cmd
        The message name, e.g. ``info``, ``getpeername``, ``settimeouts``.
    args
        Optional arguments: ng_parse text (``{ inactive=15 active=1800 }``), or
        data (a dict or list) formatted with ``format_ascii``: a str value that is
        a bare word (``inet/10.0.0.1:2055``, a MAC) is sent bare, any other str is
        quoted; to send a string-typed field give it already quoted
        (``{"hook": '"in"'}``). On the salt command line, where arguments are
        parsed as YAML, prefer the YAML form (``'{inactive: 15, active: 1800}'``).

    The reply is ``{"cmd", "cmd_num", "from", "args"}`` with ``args`` parsed
    into Python data.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.msg ksocket_netflow_em0: getpeername
        salt '*' netgraph.msg netflow_em0: settimeouts '{inactive: 15, active: 1800}'
    """
    out = _run("ngctl", _arg(ng_ops.msg_argv, path, cmd, args))
    if not out.strip():
        return None
    return _parsed(ng_text.parse_reply, out, "ngctl msg")


def graph():
    """Read the whole graph in ONE ngctl spawn (``ngctl -f -`` fed ``list -l`` and
    ``types``), whatever the number of nodes.

    Returns ``{"nodes": {KEY: {"name", "type", "id", "num_hooks", "hooks": {HOOK:
    {"peer", "peer_name", "peer_type", "peer_id", "peer_hook"}}}}, "types": [...]}``
    where KEY is the node name, or ``[id]`` (hex) for unnamed nodes. ngctl's own
    ``ngctl<pid>`` socket nodes are left out.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.graph
    """
    return _parsed(ng_snapshot.parse_graph, _run("ngctl", ["-f", "-"], stdin=ng_snapshot.GRAPH_SCRIPT), "ngctl list -l/types")


def query(requests):
    """Send read-only control messages that reply (``info``, ``ifinfo``,
    ``getpeername``, ``get*``...) and collect the replies, using one
    ``ngctl -f -`` spawn when every message succeeds.

    requests
        A list of ``[path, cmd]`` or ``[path, cmd, args_text]``.

    Returns a list of the same length: ``{"ok": True, "reply": <parsed reply>}``
    or ``{"ok": False, "error": "<ngctl message>"}``. When line k fails, ngctl
    stops; its error is recorded and a new spawn continues from line k+1.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.query '[["netflow_em0:", "info"], ["netflow_em0:", "ifinfo", "1"]]'
    """
    lines = _arg(ng_ops.query_lines, requests)
    results, start = [None] * len(lines), 0
    while start < len(lines):  # ngctl stops at a failed line: a new spawn from the next one
        chunk = lines[start:]
        result = _spawn("ngctl", ["-f", "-"], stdin="\n".join(chunk) + "\n")
        replies = _parsed(ng_text.split_replies, result.get("stdout") or "", "ngctl msg")
        failed, error = ng_ops.batch_failure(result) if result.get("retcode") else (len(chunk) + 1, None)
        if failed is None:
            raise CommandExecutionError(f"ngctl -f failed before running any line: {error}")
        results[start:start + failed - 1] = ng_ops.chunk_results(chunk, replies, failed - 1)
        if failed > len(chunk):
            break
        results[start + failed - 1] = {"ok": False, "error": error}
        start += failed
    return results


def snapshot(requests, timeout=None):
    """The whole graph and the replies to read-only control messages in ONE ngctl spawn
    (``list -l``, ``types``, then one ``msg`` line per request): what the ``netflow``
    beacon reads at every interval.

    requests
        A list of ``[path, cmd]`` or ``[path, cmd, arg, ...]`` of read-only messages.
    timeout
        The read's bound in seconds (1..3600; default ``netgraph.timeout``).

    Returns ``{"graph": <as netgraph.graph>, "replies": [...]}``: ``replies[i]`` is
    ``{"ok": True, "reply": ...}``, ``{"ok": False, "error": ...}`` for the line that
    failed, or None for the lines after it (ngctl stops at a failed line).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.snapshot '[["lan_nf:", "info"]]'
    """
    script, bound = _arg(ng_ops.snapshot_request, requests, timeout, _bound)
    result = _spawn("ngctl", ["-f", "-"], stdin=script, timeout=bound)
    try:
        graph, replies = ng_snapshot.parse_snapshot(result.get("stdout"), result.get("stderr"),
                                                result.get("retcode"), requests)
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None
    return {"graph": graph, "replies": replies}


def flowctl(path, version=None):
    """The flow table of the ng_netflow node at ``path``, read with flowctl(8)
    (``flowctl PATH show [ipv4|ipv6] verbose``): ngctl cannot send ng_netflow's binary
    ``show`` message, flowctl can.

    version
        4 or 6 for one family; both by default.

    Returns ``{"style": "verbose", "flows": [{...}, ...]}`` as flowctl printed them.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.flowctl lan_nf: version=6
    """
    argv = _arg(nf_flows.flowctl_argv, path, version, "verbose")
    return _parsed(nf_flows.parse_flowctl, _run("flowctl", argv[1:]), "flowctl")


def batch(commands):
    """Apply a list of ngctl command lines in ONE ``ngctl -f FILE`` spawn (the batch is written to a temporary file first).

    commands
        A list whose items are command lines (``"mkpeer em0: netflow lower iface0"``)
        or lists of words (``["name", "em0:lower", "netflow"]``). Words may not be
        empty or contain whitespace. Every line is validated before anything runs.

    Returns ``{"applied": N, "stdout": "..."}``. ngctl stops at the first failing
    line and does not roll back: the error raised (CommandExecutionError) carries
    ``info={"line": k, "command": "...", "error": "<ngctl message>",
    "applied": [lines 1..k-1]}``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.batch '["mkpeer em0: netflow lower iface0", "name em0:lower netflow", "connect em0: netflow: upper out0"]'
    """
    lines = _arg(ng_ops.batch_lines, commands)
    if not lines:
        return {"applied": 0, "stdout": ""}
    with ng_ops.batch_file("\n".join(lines) + "\n") as path:
        result = _spawn("ngctl", ["-f", path])
    if not result.get("retcode"):
        return {"applied": len(lines), "stdout": result.get("stdout") or ""}
    message, info = ng_ops.batch_error(lines, *ng_ops.batch_failure(result))
    raise CommandExecutionError(message, info=info)


def mkpeer(path, type, hook, peerhook):  # pylint: disable=redefined-builtin
    """Create a node of ``type`` and connect ``path``'s ``hook`` to its ``peerhook``
    (``ngctl mkpeer``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.mkpeer em0: netflow lower iface0
    """
    _run("ngctl", _arg(ng_ops.edit_argv, "mkpeer", path, type, hook, peerhook))
    return True


def connect(path, relpath, hook, peerhook):
    """Connect ``hook`` of the node at ``path`` to ``peerhook`` of the node at
    ``relpath`` (``ngctl connect``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.connect em0: netflow: upper out0
    """
    _run("ngctl", _arg(ng_ops.edit_argv, "connect", path, relpath, hook, peerhook))
    return True


def name(path, name):  # pylint: disable=redefined-outer-name
    """Give the node at ``path`` the global name ``name`` (``ngctl name``). Names are
    at most 31 characters; longer ones are refused, not truncated.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.name em0:lower netflow
    """
    _run("ngctl", _arg(ng_ops.edit_argv, "name", path, name))
    return True


def rmhook(path, hook):
    """Disconnect ``hook`` of the node at ``path`` (``ngctl rmhook``). A hook that
    does not exist is not an error.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.rmhook netflow: export9
    """
    _run("ngctl", _arg(ng_ops.edit_argv, "rmhook", path, hook))
    return True


def shutdown(path):
    """Shut down the node at ``path`` (``ngctl shutdown``). ng_ether nodes only lose
    their hooks.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.shutdown netflow_em0:
    """
    _run("ngctl", _arg(ng_ops.edit_argv, "shutdown", path))
    return True


def modules():
    """List the loaded kernel modules (``kldstat -v``): module names such as
    ``netgraph``, ``ng_ether``, ``ng_netflow``, plus the file names without ``.ko``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.modules
    """
    result = _spawn("kldstat", ["-v"])
    out = _run("kldstat", []) if result.get("retcode") else result.get("stdout") or ""
    return ng_systext.module_names(_parsed(ng_systext.parse_kldstat, out, "kldstat"))


def load_modules(names):
    """Load the kernel modules that are not loaded yet (``kldload -n``), in one
    spawn. Idempotent.

    names
        A list of module names (``["ng_ether", "ng_netflow"]``) or one name.

    Returns ``{"loaded": [...], "already": [...]}``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.load_modules '["ng_ether", "ng_netflow", "ng_ksocket"]'
    """
    wanted = _arg(ng_ops.module_list, names)
    loaded_now = set(modules())
    already = [module for module in wanted if module in loaded_now]
    missing = [module for module in wanted if module not in loaded_now]
    if missing:
        _run("kldload", ["-n"] + missing)
    return {"loaded": missing, "already": already}


def ipfw_rules():
    """List the ipfw rules (``ipfw list``) as ``[{"rule": int, "text": str}]``,
    the default rule included.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.ipfw_rules
    """
    return _parsed(ng_systext.parse_ipfw_list, _run("ipfw", ["list"]), "ipfw list")


def ipfw_add(rule, words):
    """Add an ipfw rule (``ipfw add RULE WORDS...``).

    words
        The rule body as a list of words (``["ngtee", "10", "ip", "from", "any",
        "to", "any"]``) or one string split on blanks.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.ipfw_add 100 'ngtee 10 ip from any to any via tun0'
    """
    number = _arg(ng_ops.check_rule, rule)
    checked = _arg(ng_ops.rule_words, words)
    _run("ipfw", ["add", str(number)] + checked)
    return True


def ipfw_delete(rule):
    """Delete an ipfw rule (``ipfw delete RULE``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.ipfw_delete 100
    """
    number = _arg(ng_ops.check_rule, rule)
    _run("ipfw", ["delete", str(number)])
    return True
