# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  One netflow.exporter_present per pillar netflow:exporters:<name>; the entry's keys
  (interfaces, collectors, timeouts, template, mtu, takeover, persist) are passed through
  as the state's parameters, persist defaulting to netflow:persist.
  Exporters that have boot files in boot_dir but are no longer declared were built by this
  formula and are removed (nodes, ipfw rules, boot files), so pillar stays the truth and a
  dropped exporter is not replayed at the next boot.
  Names and parameter keys come from pillar keys: map.jinja validates them first. A bad
  exporter renders one failing state (its key named, JSON-escaped) and nothing else; a bad
  path or persist value renders only failing states. State IDs are made only from
  validated names; every value is rendered as JSON with `| tojson` (Salt's json filter
  with ASCII escapes: no raw control, DEL or Unicode line-break character reaches YAML;
  parameter values with sorted keys, as `| json` sorts them, so the interface order and
  with it the boot file do not depend on how pillar was written).
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata, netflow_errors, netflow_exporters, netflow_bad, netflow_persisted with context %}
{%- if netflow_errors %}
{%-   for error in netflow_errors %}

netflow-exporter-test-configurable_test_state-invalid-{{ loop.index }}:
  test.configurable_test_state:
    - name: {{ error.key | tojson }}
    - result: false
    - changes: false
    - allow_test_mode_failure: true
    - comment: {{ ('refused, nothing applied: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%- else %}
{%-   set declared = [] %}
{%-   for name, params in netflow_exporters %}
{%-     do declared.append(name) %}
{%-   endfor %}

{#- Undeclared first: a dropped exporter may hold an interface a new one needs. #}
{%-   for name in netflow_persisted | sort if name not in declared %}

netflow-exporter-netflow-exporter_absent-{{ name }}:
  netflow.exporter_absent:
    - name: {{ name | tojson }}
{%-   endfor %}
{%-   for error in netflow_bad %}

netflow-exporter-test-configurable_test_state-invalid-exporter-{{ loop.index }}:
  test.configurable_test_state:
    - name: {{ error.key | tojson }}
    - result: false
    - changes: false
    - allow_test_mode_failure: true
    - comment: {{ ('exporter refused, nothing rendered for it: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%-   for name, params in netflow_exporters %}

netflow-exporter-netflow-exporter_present-{{ name }}:
  netflow.exporter_present:
    - name: {{ name | tojson }}
{%-     for key, value in params | dictsort %}
{%-       if key != 'persist' %}
    - {{ key }}: {{ value | tojson(sort_keys=True) }}
{%-       endif %}
{%-     endfor %}
{%-     set persist = params.get('persist', mapdata.persist) %}
    - persist: {{ persist | tojson }}
{%-     if not persist %}

{#- Not persisted: stale boot files would rebuild an outdated exporter at the next boot
    (also the <name>.modules / <name>.ipfw files of the earlier three-file format). #}
netflow-exporter-file-absent-{{ name }}-boot-files:
  file.absent:
    - names:
{%-       for ext in ('ngctl', 'modules', 'ipfw') %}
      - {{ (mapdata.boot_dir ~ '/' ~ name ~ '.' ~ ext) | tojson }}
{%-       endfor %}
    - require:
      - netflow: netflow-exporter-netflow-exporter_present-{{ name }}
{%-     endif %}
{%-   endfor %}
{%- endif %}
