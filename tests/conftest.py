"""Suite-wide set-up: the repository (for `ngsim`) and `_utils/` (the pure core, imported by
its plain module names as Salt's loader makes them importable) on sys.path, and Salt
logging hygiene.

Salt installs a deferred log handler at import time that prints "--- Logging error ---"
blocks after pytest's summary; we drop it so pytest's summary stays the last line
(Salt 3008's deferred logging handler).
"""
from __future__ import annotations

import logging
import pathlib
import sys


REPO = pathlib.Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "_utils"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def _drop_salt_deferred_handlers() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler).__name__ in ("DeferredStreamHandler", "TemporaryLoggingHandler"):
            root.removeHandler(handler)


def pytest_configure(config):
    _drop_salt_deferred_handlers()


def pytest_unconfigure(config):
    _drop_salt_deferred_handlers()
    try:
        import salt._logging.impl as impl  # type: ignore

        for name in ("shutdown_temp_handler", "shutdown_logging"):
            fn = getattr(impl, name, None)
            if fn:
                try:
                    fn()
                except Exception:  # pragma: no cover - best effort at exit
                    pass
    except Exception:  # pragma: no cover
        pass
    _drop_salt_deferred_handlers()
