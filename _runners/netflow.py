"""``salt-run netflow.verify``: proof that each exporter's flows reach its collector.

One compound call to the targeted minions asks each exporter what it sends
(``netflow.sent``) and each collector what it received over the window
(``nfcapd.received``), with their addresses (``grains.item ipv4 ipv6``); the pure core
(``_utils/netgraph_core/nf_verify.py``) pairs them and judges each pair. The exit code of
``salt-run`` is non-zero when a pair failed; in an orchestrate SLS (``salt.runner``) the
state fails the same way.
"""
from __future__ import annotations

import salt.client
import salt.utils.minions
from netgraph_core import nf_verify
from salt.exceptions import SaltInvocationError

__virtualname__ = "netflow"
TGT_TYPES = ("glob", "pcre", "list", "grain", "grain_pcre", "pillar", "pillar_pcre", "nodegroup", "compound",
             "ipcidr")
MAX_TGT = 1000


def __virtual__():
    return __virtualname__


def _checked(tgt, tgt_type, window, timeout) -> int:
    """The arguments checked before anything is sent; the window."""
    if not isinstance(tgt, (str, list)) or not tgt or len(str(tgt)) > MAX_TGT or (
            isinstance(tgt, list) and not all(isinstance(m, str) for m in tgt)):
        raise SaltInvocationError(f"tgt: must be a target (a string or a list of minion ids of at most {MAX_TGT} "
                                  "characters)")
    if tgt_type not in TGT_TYPES:
        raise SaltInvocationError(f"tgt_type: must be one of {', '.join(TGT_TYPES)}")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 3600:
        raise SaltInvocationError("timeout: must be an integer number of seconds 1..3600")
    try:
        return nf_verify.check_window(window)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None


def _ask(tgt, tgt_type, timeout: int, calls: dict) -> dict:
    """``{minion: {fun: answer}}``: one call per function (a compound call fails whole on
    a minion that lacks one of them, as a collector host lacks ``netflow``). A minion that
    answered one call but not another gets a text saying so (a malformed answer)."""
    client = salt.client.get_local_client(mopts=__opts__)
    got = {fun: client.cmd(tgt, fun, args, timeout=timeout, tgt_type=tgt_type) for fun, args in calls.items()}
    minions = set().union(*got.values())
    return {m: {fun: got[fun][m] if m in got[fun] else f"no answer to {fun} within {timeout} s" for fun in calls}
            for m in minions}


def verify(tgt="*", window: int = 300, tgt_type: str = "glob", timeout: int = 60, details: bool = False) -> dict:
    """
    Ask the targeted minions what each exporter sent and what each collector received over
    the last ``window`` seconds, and judge every (exporter, collector) pair: ``table``
    (EXPORTER, COLLECTOR (minion/ident), VERSION, SENT (flows expired since the exporter was
    made), RECEIVED (datagrams), DECODED (flows), LOST (sequence gaps), VERDICT), ``comment``,
    ``retcode`` (1 when a pair is NOTHING or LOSS, a targeted minion gave no or a malformed
    answer, or nothing was there to verify), and with ``details=True`` the ``pairs`` as data.
    Verdicts: docs/formula.md, "Verify delivery".

    CLI Examples::

        salt-run netflow.verify
        salt-run netflow.verify tgt='fw*,nfcap1' tgt_type=list window=900
    """
    window = _checked(tgt, tgt_type, window, timeout)
    answers = _ask(tgt, tgt_type, timeout, {"netflow.sent": [], "nfcapd.received": [f"window={window}"],
                                            "grains.item": ["ipv4", "ipv6"]})
    targeted = salt.utils.minions.CkMinions(__opts__).check_minions(tgt, tgt_type).get("minions", [])
    out = nf_verify.report(answers, targeted, window)
    __context__["retcode"] = out["retcode"]  # salt.runner (orchestrate) judges the run by it
    if not details:
        out.pop("pairs")
    return out
