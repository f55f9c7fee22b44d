"""The pure half of the ``netgraph`` execution module (no Salt): the checks of its arguments
and the ngctl/ipfw/kldload words and scripts built from them, and what a batch's or a
query's output means. Every check raises ``ValueError`` whose message names the argument;
the Salt glue (``_modules/netgraph.py``) turns it into ``SaltInvocationError`` and spawns.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any, Callable, Iterator, Optional

from . import ng_ascii
from . import ng_snapshot
from . import ng_text
from . import ng_words
from . import nf_paths

# The ngctl commands that change the graph: each argument's name and its check, in order
# (connect's relpath may be relative: ``check_path(relpath, False)``).
EDITS: dict[str, tuple] = {
    "mkpeer": (("path", ng_words.check_path), ("type", ng_words.check_type_name),
               ("hook", ng_words.check_hook_name), ("peerhook", ng_words.check_hook_name)),
    "connect": (("path", ng_words.check_path), ("relpath", ng_words.check_path, False),
                ("hook", ng_words.check_hook_name), ("peerhook", ng_words.check_hook_name)),
    "name": (("path", ng_words.check_path), ("name", ng_words.check_node_name)),
    "rmhook": (("path", ng_words.check_path), ("hook", ng_words.check_hook_name)),
    "shutdown": (("path", ng_words.check_path),),
}


def no_ngctl(kernel: Any, ngctl: Any, fallback: str) -> Optional[str]:
    """Why the module cannot load (None: it can): not FreeBSD and no executable ngctl at
    the configured path (``ngctl``), or at ``fallback`` when none is configured."""
    if kernel == "FreeBSD":
        return None
    if isinstance(ngctl, str) and ngctl and os.path.isfile(ngctl) and os.access(ngctl, os.X_OK):
        return None
    if not ngctl and os.access(fallback, os.X_OK):
        return None
    return (
        "netgraph: the kernel grain is {!r}, not FreeBSD, and no executable ngctl was found"
        " at {} (set netgraph.ngctl in the minion config)".format(kernel, ngctl or fallback)
    )


def snapshot_request(requests: Any, timeout: Any, bound: Callable[[], float]) -> tuple[str, float]:
    """The ``ngctl -f -`` script of a snapshot and its time bound (``timeout``, else
    ``bound()``, the configured one), checked in that order."""
    if not isinstance(requests, (list, tuple)):
        raise ValueError("requests: must be a list of [path, cmd, arg, ...]")
    seconds = nf_paths.check_timeout("timeout", timeout, bound())
    return ng_snapshot.snapshot_script(requests), seconds


def edit_argv(command: str, *values: Any) -> list[str]:
    """``COMMAND ARG...`` for one of ``EDITS``, every argument checked by name."""
    for (argname, check, *extra), value in zip(EDITS[command], values):
        ng_words.checked(argname, check, value, *extra)
    return [command] + list(values)


@contextlib.contextmanager
def batch_file(text: str) -> Iterator[str]:
    """``ngctl -f FILE`` reads a complete, fsync'ed file, never a pipe: a Salt job killed
    while the batch is handed over can never leave ngctl reading half a line."""
    fd, path = tempfile.mkstemp(prefix="salt-netgraph-", suffix=".ngctl")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def error_text(result: dict) -> str:
    """What a failed spawn said: its stderr, else its stdout, else its exit status."""
    text = (result.get("stderr") or "").strip() or (result.get("stdout") or "").strip()
    return text or "exit status {}".format(result.get("retcode"))


def batch_failure(result: dict) -> tuple[Optional[int], str]:
    """(the failing line or None, the error) of an ``ngctl -f`` that exited non-zero."""
    failed, error = ng_words.batch_failure(result.get("stderr") or "")
    return failed, error or error_text(result)


def unmangle_cli_args(args: Any) -> Any:
    """Undo what Salt's CLI argument YAML-parsing does to ng_parse text:
    ``{ a=1 b=2 }`` arrives as ``{"a=1 b=2": None}`` and ``[ 1 1 ]`` as ``["1 1"]``."""
    if isinstance(args, dict) and len(args) == 1:
        (key, value), = args.items()
        if value is None and isinstance(key, str) and "=" in key:
            return "{ " + key.strip() + " }"
    if isinstance(args, list) and len(args) == 1 and isinstance(args[0], str):
        words = args[0].split()
        if len(words) > 1 and all(ng_ascii.BARE_WORD_RE.fullmatch(word) for word in words):
            return "[ " + " ".join(words) + " ]"
    return args


def args_text(args: Any, argname: str = "args") -> Optional[str]:
    """A message's arguments as one line of ng_parse text (None: no arguments)."""
    args = unmangle_cli_args(args)
    if args is None:
        return None
    if isinstance(args, str):
        if ng_words.CTRL_RE.search(args):
            raise ValueError(f"{argname}: message arguments may not contain newlines or control characters")
        return args.strip() or None
    try:
        text = ng_ascii.format_ascii(args)
    except ValueError as exc:
        raise ValueError(f"{argname}: {exc}") from None
    if ng_words.CTRL_RE.search(text):  # never a line break into an ngctl -f batch
        raise ValueError(f"{argname}: message arguments may not contain newlines or control characters")
    return text


def msg_argv(path: Any, cmd: Any, args: Any) -> list[str]:
    """``msg PATH CMD [ARGS]``, every word checked."""
    ng_words.checked("path", ng_words.check_path, path)
    ng_words.checked("cmd", ng_words.check_cmd_name, cmd)
    text = args_text(args)
    return ["msg", path, cmd] + ([text] if text else [])


def query_lines(requests: Any) -> list[str]:
    """One ``msg`` line per ``[path, cmd(, args)]`` request, each a read-only message."""
    if not isinstance(requests, (list, tuple)):
        raise ValueError("requests: must be a list of [path, cmd] or [path, cmd, args]")
    lines = []
    for index, request in enumerate(requests):
        where = f"requests[{index}]"
        if not isinstance(request, (list, tuple)) or len(request) not in (2, 3):
            raise ValueError(f"{where}: must be [path, cmd] or [path, cmd, args]")
        path, cmd = request[0], request[1]
        ng_words.checked(f"{where} path", ng_words.check_path, path)
        ng_words.checked(f"{where} cmd", ng_words.check_cmd_name, cmd)
        if not ng_words.is_readonly_message(cmd):
            raise ValueError(
                f"{where}: {cmd!r} is not a read-only message (query sends only messages that FreeBSD's"
                f" sources define as read-only: {', '.join(sorted(ng_words.READONLY_MESSAGES))};"
                " use msg or batch for the others)"
            )
        text = args_text(request[2], f"{where} args") if len(request) == 3 else None
        lines.append(" ".join(["msg", path, cmd] + ([text] if text else [])))
    return lines


def chunk_results(chunk: list[str], replies: list[dict], succeeded: int) -> list[dict]:
    """The results of the first ``succeeded`` lines of a query chunk (``msg PATH CMD ...``)."""
    return ng_text.attribute_replies([chunk[i].split()[2] for i in range(succeeded)], replies)


def batch_lines(commands: Any) -> list[str]:
    """The lines of an ``ngctl -f`` batch, every one validated before anything runs."""
    if not isinstance(commands, (list, tuple)):
        raise ValueError("commands: must be a list of command lines")
    return [ng_words.batch_line(command, index) for index, command in enumerate(commands)]


def batch_error(lines: list[str], failed: Optional[int], error: str) -> tuple[str, dict]:
    """The message and ``info`` of a batch that stopped at line ``failed`` (None: before any)."""
    if failed is None or not 1 <= failed <= len(lines):
        info = {"line": None, "command": None, "error": error, "applied": []}
        return f"ngctl -f failed before running any line: {error}", info
    info = {"line": failed, "command": lines[failed - 1], "error": error, "applied": lines[: failed - 1]}
    return (
        "ngctl batch failed at line {} ({}): {}; {} earlier line(s) took effect and were not"
        " rolled back".format(failed, lines[failed - 1], error, failed - 1),
        info,
    )


def module_list(names: Any) -> list[str]:
    """Kernel module names to load, checked, ``.ko`` dropped, each once."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)):
        raise ValueError("names: must be a list of module names")
    wanted = []
    for index, module in enumerate(names):
        ng_words.checked(f"names[{index}]", ng_words.check_word, module, "module name")
        if not ng_words.MODULE_NAME_RE.fullmatch(module):
            raise ValueError(f"names[{index}]: module name {ng_words.shown(module)} must be letters, digits and '_'")
        module = module[:-3] if module.endswith(".ko") else module
        if module not in wanted:
            wanted.append(module)
    return wanted


def check_rule(rule: Any) -> int:
    """An ipfw rule number 1..65534 (an int, or its digits as text)."""
    if isinstance(rule, str) and ng_words.RULE_NUMBER_RE.fullmatch(rule):
        rule = int(rule)
    if isinstance(rule, bool) or not isinstance(rule, int):  # no 100.9 -> 100, no " 10\n"
        raise ValueError(f"rule: {ng_words.shown(rule)} is not an integer 1..65534")
    if not 1 <= rule <= 65534:
        raise ValueError(f"rule: {rule} is outside 1..65534")
    return rule


def rule_words(words: Any) -> list[str]:
    """An ipfw rule's body: a list of words or one string split on blanks, each checked."""
    if isinstance(words, str):
        if ng_words.CTRL_RE.search(words):
            raise ValueError("words: may not contain newlines or control characters")
        words = words.split()
    if not isinstance(words, (list, tuple)) or not words:
        raise ValueError("words: must be a non-empty list of words")
    checked = []
    for index, word in enumerate(words):
        word = str(word) if isinstance(word, int) and not isinstance(word, bool) else word
        ng_words.checked(f"words[{index}]", ng_words.check_word, word, "rule word", 255)
        checked.append(word)
    return checked
