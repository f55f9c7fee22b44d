"""Fixtures for functional tests: emulated FreeBSD hosts (ngsim) and Salt's own loader
bound to one of them (the helpers live in tests/support/nghost.py)."""
from __future__ import annotations

import pathlib

import pytest

from tests.support.nghost import NgHost, ng_loaders_for


@pytest.fixture(scope="module")
def ng_root(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("ngfunc") / "host"


@pytest.fixture(scope="module")
def ng_loaders(ng_root, tmp_path_factory):
    NgHost(ng_root).init()
    return ng_loaders_for(ng_root, tmp_path_factory.mktemp("ngsalt"))


@pytest.fixture
def ng_host(ng_root, ng_loaders) -> NgHost:
    """A fresh host (em0, em1; ng_ether loaded) at the path ng_loaders is bound to.
    Tests may re-init it with other interfaces."""
    host = NgHost(ng_root).init()
    ng_loaders.reset_state()
    return host
