"""ngsim/options.py: getopt(3) as the emulated binaries share it (each binary's own
messages and exit statuses are tested with the binary)."""
from __future__ import annotations

import io

import pytest

from ngsim.options import GetOpt

CASES = [  # argv, optstring -> yielded (option, argument) pairs, operands
    ([], "d:", [], []),
    (["-d", "3", "x"], "d:", [("d", "3")], ["x"]),
    (["-d3", "x"], "d:", [("d", "3")], ["x"]),
    (["-ld", "em0"], "ld", [("l", ""), ("d", "")], ["em0"]),
    (["-lfFILE", "-n"], "lf:n", [("l", ""), ("f", "FILE"), ("n", "")], []),
    (["-f", "-n"], "f:n", [("f", "-n")], []),  # the next word is the argument, dash or not
    (["-f", ""], "f:", [("f", "")], []),
    (["--", "-d"], "d", [], ["-d"]),
    (["-", "-d"], "d", [], ["-", "-d"]),
    (["x", "-d"], "d", [], ["x", "-d"]),
    (["-xd"], "d", [("?", "illegal option -- x"), ("d", "")], []),
    (["-:"], "d:", [("?", "illegal option -- :")], []),
    (["-l", "-d"], "ld:", [("l", ""), ("?", "option requires an argument -- d")], []),
]


@pytest.mark.parametrize("argv, optstring, pairs, operands", CASES)
def test_getopt(argv, optstring, pairs, operands):
    opts = GetOpt(argv, optstring)
    assert list(opts) == pairs
    assert opts.operands == operands


def test_given_keeps_the_last_argument_and_stops_at_the_first_complaint():
    err = io.StringIO()
    opts = GetOpt(["-i1", "-q", "-i", "2", "m"], "i:q")
    assert opts.given("kldstat", err) == {"i": "2", "q": ""}
    assert (opts.operands, err.getvalue()) == (["m"], "")
    opts = GetOpt(["-qx", "-y"], "q")
    assert opts.given("kldload", err) is None
    assert err.getvalue() == "kldload: illegal option -- x\n"
