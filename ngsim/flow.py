"""The flow entry: one flow of ng_netflow's cache, shared by the netflow node's data path
(``ngsim.types.netflow``, which builds and ages entries) and the export formats
(``ngsim.export``, which turns entries into v5/v9 records), as ``struct flow_entry``
(ng_netflow.h) is shared by netflow.c and netflow_v9.c. Imports nothing.

An entry is a JSON-friendly list: the flow_rec key, then the accumulated data.
"""

SRC, DST, SPORT, DPORT, PROTO, TOSI, IIFX, OIFX, PACKETS, BYTES, FIRST, LAST, FLAGS = range(13)
