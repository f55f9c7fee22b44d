# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  One netflow.exporter_present per pillar netflow:exporters:<name>; the entry's keys
  (interfaces, collectors, timeouts, template, mtu, takeover, persist) are passed through
  as the state's parameters, persist defaulting to netflow:persist.
  Exporters that have boot files in boot_dir but are no longer declared were built by this
  formula and are removed (nodes, ipfw rules, boot files), so pillar stays the truth and a
  dropped exporter is not replayed at the next boot.
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata with context %}

{%- set declared = mapdata.exporters | default({}, true) %}

{#- Undeclared first: a dropped exporter may hold an interface a new one needs. #}
{%- set persisted = [] %}
{%- if salt['file.directory_exists'](mapdata.boot_dir) %}
{%-   for path in salt['file.find'](mapdata.boot_dir, type='f', name='*.ngctl', maxdepth=1) %}
{%-     do persisted.append(salt['file.basename'](path)[:-6]) %}
{%-   endfor %}
{%- endif %}
{%- for name in persisted | sort if name not in declared %}

netflow-exporter-netflow-exporter_absent-{{ name }}:
  netflow.exporter_absent:
    - name: {{ name | json }}
{%- endfor %}
{%- for name, params in declared | dictsort %}
{%-   set params = params | default({}, true) %}

netflow-exporter-netflow-exporter_present-{{ name }}:
  netflow.exporter_present:
    - name: {{ name | json }}
{%-   for key, value in params | dictsort %}
{%-     if key != 'persist' %}
    - {{ key }}: {{ value | json }}
{%-     endif %}
{%-   endfor %}
{%-   set persist = params.get('persist', mapdata.persist) %}
    - persist: {{ persist | json }}
{%-   if not persist %}

{#- Not persisted: stale boot files would rebuild an outdated exporter at the next boot. #}
netflow-exporter-file-absent-{{ name }}-boot-files:
  file.absent:
    - names:
{%-     for ext in ('ngctl', 'modules', 'ipfw') %}
      - {{ (mapdata.boot_dir ~ '/' ~ name ~ '.' ~ ext) | json }}
{%-     endfor %}
    - require:
      - netflow: netflow-exporter-netflow-exporter_present-{{ name }}
{%-   endif %}
{%- endfor %}
