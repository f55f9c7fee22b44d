# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Undo init.sls in reverse order:
    1. disable boot persistence (rc.conf.d file), so a reboot mid-way rebuilds nothing;
    2. every exporter absent: the declared ones and any still persisted in boot_dir
       (nodes shut down so every interface passes traffic, ipfw tee rules deleted,
       boot files removed by the state);
    3. the rc.d script removed.
  rc.d/netflow stop is not needed: Salt removes the nodes itself.
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata with context %}

{%- set names = [] %}
{%- for name in (mapdata.exporters | default({}, true)) %}
{%-   do names.append(name) %}
{%- endfor %}
{%- if salt['file.directory_exists'](mapdata.boot_dir) %}
{%-   for path in salt['file.find'](mapdata.boot_dir, type='f', name='*.ngctl', maxdepth=1) %}
{%-     set name = salt['file.basename'](path)[:-6] %}
{%-     if name not in names %}
{%-       do names.append(name) %}
{%-     endif %}
{%-   endfor %}
{%- endif %}

netflow-clean-boot-file-absent-rc-conf-d:
  file.absent:
    - name: {{ mapdata.rc_conf_d | json }}
{%- for name in names | sort %}

netflow-clean-exporter-netflow-exporter_absent-{{ name }}:
  netflow.exporter_absent:
    - name: {{ name | json }}
    - require:
      - file: netflow-clean-boot-file-absent-rc-conf-d
{%- endfor %}

netflow-clean-boot-file-absent-rc-script:
  file.absent:
    - name: {{ mapdata.rc_script | json }}
{%- if names %}
    - require:
{%-   for name in names | sort %}
      - netflow: netflow-clean-exporter-netflow-exporter_absent-{{ name }}
{%-   endfor %}
{%- endif %}
