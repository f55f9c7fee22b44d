# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Reactor: re-apply the netflow formula on the minion whose `netflow` beacon asked for a
  heal (an exporter drifted: an interface re-created, a node gone, a hook cut, a collector
  re-pointed). Master config:

    reactor:
      - 'salt/beacon/*/netflow/*':
        - salt://netflow/reactor/heal.sls

  Rate limit, two layers (docs/DESIGN-NOTES.md, "Self-healing"):
  * the beacon sets `heal: true` only when its per-exporter backoff allows (first request
    at once, then after heal_backoff seconds, doubling up to heal_backoff_max);
  * here, at most one heal per minion every `netflow_reactor:min_interval` seconds (master
    config, default 30), remembered in the master's data store (data.get/data.update);
    events are acted on only when the tag is salt/beacon/<id>/netflow/<exporter> with
    data.id == <id>, a valid exporter name and heal exactly true.
#}
{%- set parts = tag.split('/') %}
{%- set minion = data.get('id') %}
{%- set exporter = data.get('exporter') %}
{%- set valid = parts | length == 5 and parts[0] == 'salt' and parts[1] == 'beacon' and parts[3] == 'netflow'
                and minion is string and minion is match('[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\\Z') and parts[2] == minion
                and exporter is string and exporter is match('[A-Za-z][A-Za-z0-9_-]{0,24}\\Z') and parts[4] == exporter
                and data.get('heal') is sameas true %}
{%- if valid %}
{%-   set gap = salt['config.get']('netflow_reactor:min_interval', 30) | int %}
{%-   set now = None | strftime('%s') | int %}
{%-   set key = 'netflow_heal:' ~ minion %}
{%-   set last = salt['data.get'](key) | int %}
{%-   if now - last >= gap %}
{%-     do salt['data.update'](key, now) %}

netflow-reactor-heal-{{ minion }}:
  local.state.apply:
    - tgt: {{ [minion] | tojson }}
    - tgt_type: list
    - args:
      - mods: netflow
{%-   endif %}
{%- endif %}
