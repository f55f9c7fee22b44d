# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Undo init.sls in reverse order:
    1. disable boot persistence (rc.conf.d file), so a reboot mid-way rebuilds nothing;
    2. every exporter absent: the declared ones and any still persisted in boot_dir
       (nodes shut down so every interface passes traffic, ipfw tee rules deleted),
       then its boot file <name>.ngctl removed (and <name>.modules / <name>.ipfw of the
       earlier three-file format, listed only when present);
    3. the rc.d script removed.
  rc.d/netflow stop is not needed: Salt removes the nodes itself. One exporter_absent per
  exporter (not the host state of exporter.sls): removing only, no interface moves between
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

netflow-clean-netflow-refused-{{ loop.index }}:
  netflow.refused:
    - name: {{ error.key | tojson }}
    - comment: {{ ('refused, nothing removed: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%- else %}

netflow-clean-boot-file-absent-rc-conf-d:
  file.absent:
    - name: {{ mapdata.rc_conf_d | tojson }}
{%-   for name, paths in netflow_boot_files | dictsort %}

netflow-clean-exporter-netflow-exporter_absent-{{ name }}:
  netflow.exporter_absent:
    - name: {{ name | tojson }}
    - require:
      - file: netflow-clean-boot-file-absent-rc-conf-d

netflow-clean-boot-file-absent-{{ name }}-boot-files:
  file.absent:
    - names:
{%-     for path in paths %}
      - {{ path | tojson }}
{%-     endfor %}
    - require:
      - netflow: netflow-clean-exporter-netflow-exporter_absent-{{ name }}
{%-   endfor %}

netflow-clean-boot-file-absent-rc-script:
  file.absent:
    - name: {{ mapdata.rc_script | tojson }}
{%-   if netflow_boot_files %}
    - require:
{%-     for name in netflow_boot_files | sort %}
      - file: netflow-clean-boot-file-absent-{{ name }}-boot-files
{%-     endfor %}
{%-   endif %}
{%- endif %}
