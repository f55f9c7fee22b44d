# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  One netflow.exporter_present per pillar netflow:exporters:<name>; the entry's keys
  (interfaces, collectors, timeouts, template, mtu, takeover, persist) are passed through
  as the state's parameters, persist defaulting to netflow:persist.
  Exporters that have boot files in boot_dir but are no longer declared were built by this
  formula and are removed (nodes, ipfw rules, boot files), so pillar stays the truth and a
  dropped exporter is not replayed at the next boot.
  Names and parameter keys come from pillar keys: netflow.mapdata (map.jinja) validates the
  whole pillar first, every exporter's parameters as its state will. Any error refuses the
  whole run: only failing states (netflow.refused, one per error, its key named and JSON-
  escaped) render, so a typo never removes an exporter, and nothing else is applied. State
  IDs are made only from validated names; every value is rendered as JSON with `| tojson`
  (Salt's json filter with ASCII escapes: no raw control, DEL or Unicode line-break
  character reaches YAML; parameter values with sorted keys, as `| json` sorts them, so the
  interface order and with it the boot file do not depend on how pillar was written).
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata, netflow_errors, netflow_exporters, netflow_absent with context %}
{%- if netflow_errors %}
{%-   for error in netflow_errors %}

netflow-exporter-netflow-refused-{{ loop.index }}:
  netflow.refused:
    - name: {{ error.key | tojson }}
    - comment: {{ ('refused, nothing applied or removed: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%- else %}

{#- Undeclared first: a dropped exporter may hold an interface a new one needs. #}
{%-   for name in netflow_absent %}

netflow-exporter-netflow-exporter_absent-{{ name }}:
  netflow.exporter_absent:
    - name: {{ name | tojson }}
{%-   endfor %}
{%-   for name, params in netflow_exporters %}

netflow-exporter-netflow-exporter_present-{{ name }}:
  netflow.exporter_present:
    - name: {{ name | tojson }}
{%-     for key, value in params | dictsort %}
    - {{ key }}: {{ value | tojson(sort_keys=True) }}
{%-     endfor %}
{%-     if not params.persist %}

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
