"""ngsim: a user-space emulator of FreeBSD's netgraph, ngctl, kldload, kldstat and ipfw.

See ngsim/README.md. Nothing in this package imports Salt.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
