# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  The NetFlow collector: nfcapd (nfdump) as pillar netflow:collector declares it (the keys
  are in pillar.example and docs/formula.md, "Collector"). init.sls includes it where
  netflow:collector is set, and leaves the exporter SLS files out on a collector-only host
  (Debian, no netgraph: no netflow execution module, where they would only fail).
  The pillar is checked whole first: by netflow.mapdata (map.jinja) where the netflow
  execution module loads (the whole pillar netflow, taken or refused whole, as the other
  SLS files), else by nfcapd.check (netflow:collector alone); both run the state's own
  check (_utils/netgraph_core/nf_collector.py). Any error renders only failing states
  (netflow.refused, one per error, its key named and JSON-escaped), so nothing is
  installed, written or started. The pillar reaches the state as one value rendered with `| tojson`; nothing from
  it is written into this file's YAML otherwise. No netflow:collector: nothing rendered.
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata, netflow_errors with context %}
{%- set collector = salt['pillar.get']('netflow:collector', none) %}
{%- if collector is not none %}
{%-   if 'netflow.mapdata' not in salt and 'nfcapd.check' in salt %}
{%-     set netflow_errors = salt['nfcapd.check'](collector) %}
{%-   elif 'netflow.mapdata' not in salt %}
{%-     set netflow_errors = [{'key': 'netflow:collector', 'comment': 'netflow:collector: the nfcapd execution module is '
                       ~ 'not loaded on this minion (run saltutil.sync_all or install saltext-netgraph)'}] %}
{%-   endif %}
{%-   if netflow_errors %}
{%-     for error in netflow_errors %}

netflow-collector-netflow-refused-{{ loop.index }}:
  netflow.refused:
    - name: {{ error.key | tojson }}
    - comment: {{ ('refused, nothing installed, written or started: ' ~ error.comment) | tojson }}
{%-     endfor %}
{%-   else %}

netflow-collector-pkg-installed-nfdump:
  pkg.installed:
    - name: nfdump

netflow-collector-netflow-collector_present:
  netflow.collector_present:
    - config: {{ collector | tojson }}
    - require:
      - pkg: netflow-collector-pkg-installed-nfdump
{%-   endif %}
{%- endif %}
