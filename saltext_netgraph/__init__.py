"""saltext-netgraph: salt-netgraph as a Salt extension: FreeBSD netgraph NetFlow exporters for Salt.

Installed with ``pip install saltext-netgraph`` (or ``salt-pip install`` on onedir minions),
the ``salt.loader`` entry point (:func:`saltext_netgraph.loader.get_dirs`) hands Salt's
loader the directories of the execution modules (``netgraph``, ``netflow``), the state
(``netflow``), the beacon and the pure core. Those directories are the repository's own
``_modules/``, ``_states/``, ``_beacons/`` and ``_utils/``, packaged as they are: the
same files that ``saltutil.sync_all`` sends from file_roots.
"""

__version__ = "0.3.0"
