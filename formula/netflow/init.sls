# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Both roles from one `state.apply netflow`. The exporter parts: exporters first (they write
  the boot files), then the rc.d script that replays them and its rc.conf.d file (which
  requires every exporter state; boot.sls includes .exporter), then the metrics schedule.
  They are left out only on a collector-only host: no netflow execution module (no
  netgraph, e.g. Debian), no pillar netflow:exporters, and a pillar netflow:collector;
  anywhere else they render as before (without the module they refuse, saying why, so an
  exporter host that was never synced fails rather than doing nothing). The collector
  (nfcapd) is included where pillar netflow:collector is set, but not beside that refusal
  (exporters declared where the module is missing): one pillar, refused whole, nothing
  installed. Pillar is only tested for presence here: every value is checked by
  netflow.mapdata / nfcapd.check in the included files.
#}
{%- set has_module = 'netflow.mapdata' in salt %}
{%- set has_collector = salt['pillar.get']('netflow:collector', none) is not none %}
{%- set has_exporters = salt['pillar.get']('netflow:exporters', none) is not none %}
{%- set exporter_side = has_module or has_exporters or not has_collector %}
{%- set collector_side = has_collector and (has_module or not has_exporters) %}
include:
{%- if exporter_side %}
  - .exporter
  - .boot
  - .metrics
{%- endif %}
{%- if collector_side %}
  - .collector
{%- endif %}
