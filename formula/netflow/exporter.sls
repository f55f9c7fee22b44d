# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  ONE netflow.exporters_present for the host: every pillar netflow:exporters:<name> (its
  keys interfaces, collectors, timeouts, template, mtu, takeover, persist passed through
  as that exporter's parameters, persist defaulting to netflow:persist), and as `absent`
  the exporters that have boot files in boot_dir but are no longer declared (built by this
  formula: their nodes, ipfw rules and boot files are removed, so pillar stays the truth
  and a dropped exporter is not replayed at the next boot). One read, one plan, one ngctl
  batch, one rollback for the whole host: an interface moved between exporters in one
  pillar change is one change whatever the exporters' names (one state per exporter would
  refuse it when the gaining exporter ran first).
  Names and parameter keys come from pillar keys: netflow.mapdata (map.jinja) validates the
  whole pillar first, every exporter's parameters as the state will. Any error refuses the
  whole run: only failing states (netflow.refused, one per error, its key named and JSON-
  escaped) render, so a typo never removes an exporter, and nothing else is applied. State
  IDs are made only from validated names; every value is rendered as JSON with `| tojson`
  (Salt's json filter with ASCII escapes: no raw control, DEL or Unicode line-break
  character reaches YAML; sorted keys, as `| json` sorts them, so the interface order and
  with it the boot file do not depend on how pillar was written).
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata, netflow_errors, netflow_exporters, netflow_absent, netflow_host_state, netflow_boot_files with context %}
{%- if netflow_errors %}
{%-   for error in netflow_errors %}

netflow-exporter-netflow-refused-{{ loop.index }}:
  netflow.refused:
    - name: {{ error.key | tojson }}
    - comment: {{ ('refused, nothing applied or removed: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%- else %}
{%-   set declared = {} %}
{%-   for name, params in netflow_exporters %}
{%-     do declared.update({name: params}) %}
{%-   endfor %}
{#- Nothing declared nor to remove: no state, nothing spawned (e.g. only the rc.d script). #}
{%-   if netflow_host_state %}

netflow-exporter-netflow-exporters_present:
  netflow.exporters_present:
    - exporters: {{ declared | tojson(sort_keys=True) }}
    - absent: {{ netflow_absent | tojson }}
    - persist: {{ mapdata.persist | tojson }}
{%-   endif %}
{%-   for name, params in netflow_exporters %}
{%-     if not params.persist %}

{#- Not persisted: stale boot files would rebuild an outdated exporter at the next boot
    (also the <name>.modules / <name>.ipfw files of the earlier three-file format, which
    netflow.mapdata lists only when present). #}
netflow-exporter-file-absent-{{ name }}-boot-files:
  file.absent:
    - names:
{%-       for path in netflow_boot_files[name] %}
      - {{ path | tojson }}
{%-       endfor %}
    - require:
      - netflow: netflow-exporter-netflow-exporters_present
{%-     endif %}
{%-   endfor %}
{%- endif %}
