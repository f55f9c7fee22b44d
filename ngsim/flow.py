"""What ng_netflow.h gives every part of ng_netflow: the flow entry (one flow of the
cache), built and aged by ``ngsim.netflow_cache`` (netflow.c) and turned into v5/v9
records by ``ngsim.export`` and ``ngsim.netflow_v9``, as ``struct flow_entry`` is shared
by netflow.c and netflow_v9.c; the per-interface config flags the node
(``ngsim.types.netflow``, ng_netflow.c) sets and the cache reads; and the layout of the
binary NGM_NETFLOW_SHOW reply, which netflow.c fills and flowctl(8) reads. Imports
nothing.

An entry is a JSON-friendly list: the flow_rec key, then the accumulated data.
"""

SRC, DST, SPORT, DPORT, PROTO, TOSI, IIFX, OIFX, PACKETS, BYTES, FIRST, LAST, FLAGS = range(13)

# NG_NETFLOW_CONF_*: an iface's ``conf`` (setconfig)
CONF_INGRESS, CONF_EGRESS, CONF_ONCE, CONF_THISONCE = 1, 2, 4, 8
CONF_NOSRCLOOKUP, CONF_NODSTLOOKUP = 16, 32

# NGM_NETFLOW_SHOW's reply
SHOW_HEADER_SIZE = 16  # struct ngnf_show_header: u_char version; 3 pad; hash_id, list_id, nentries
FLOW_ENTRY_SIZE = 72  # struct flow_entry_data, LP64 (amd64/arm64)
FLOW6_ENTRY_SIZE = 112  # struct flow6_entry_data, LP64
NREC_AT_ONCE = 1000
NREC6_AT_ONCE = NREC_AT_ONCE * FLOW_ENTRY_SIZE // FLOW6_ENTRY_SIZE  # 642
NGRESP_SIZE = SHOW_HEADER_SIZE + NREC_AT_ONCE * FLOW_ENTRY_SIZE  # 72016
