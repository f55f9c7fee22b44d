# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Undo init.sls in reverse order:
    1. disable boot persistence (rc.conf.d file), so a reboot mid-way rebuilds nothing;
    2. every exporter absent: the declared ones and any still persisted in boot_dir
       (nodes shut down so every interface passes traffic, ipfw tee rules deleted, its
       boot file <name>.ngctl removed, and <name>.modules / <name>.ipfw of the earlier
       three-file format where they are left);
    3. the rc.d script removed.
  rc.d/netflow stop is not needed: Salt removes the nodes itself. One exporter_absent per
  exporter, one ID for them all (each output block then says its function, exporter and
  result once; not the host state of exporter.sls): removing only, no interface moves between
  exporters, so the order cannot matter, and each leaves every interface passing.
  Names and boot file paths come from netflow.mapdata (netflow_boot_files: only valid
  exporter names, declared in pillar or persisted in boot_dir or the records). Any
  error in pillar (netflow.mapdata: a typo, a wrong type, a bad path) refuses the whole
  run: only failing states (netflow.refused) render and nothing is removed.
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata, netflow_errors, netflow_boot_files with context %}
{%- if netflow_errors %}
{%-   for error in netflow_errors %}

netflow-clean-refused-{{ loop.index }}:
  netflow.refused:
    - name: {{ error.key | tojson }}
    - comment: {{ ('refused, nothing removed: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%- else %}

netflow-clean-rc-conf-d:
  file.absent:
    - name: {{ mapdata.rc_conf_d | tojson }}
{%-   if netflow_boot_files %}

netflow-clean-exporters:
  netflow.exporter_absent:
    - names:
{%-     for name in netflow_boot_files | sort %}
      - {{ name | tojson }}
{%-     endfor %}
    - require:
      - file: netflow-clean-rc-conf-d
{%-   endif %}

netflow-clean-rc-script:
  file.absent:
    - name: {{ mapdata.rc_script | tojson }}
{%-   if netflow_boot_files %}
    - require:
      - netflow: netflow-clean-exporters
{%-   endif %}
{%- endif %}
