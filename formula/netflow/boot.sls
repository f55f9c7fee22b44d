# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Boot persistence without Salt: rc.d/netflow replays <boot_dir>/<name>.ngctl (one file
  per exporter, written by netflow.exporters_present with persist: true: the kernel modules,
  the ngctl lines, the ipfw rules and a closing checksum). It is enabled with a file under
  /etc/rc.conf.d/ (read by rc.subr's load_rc_config), so no sysrc/saltext-freebsd is needed.
  Every path, and the text of rc.conf.d, comes from netflow.mapdata through map.jinja
  (each path checked there: rc.conf.d is sourced by sh as root), so tests can point them
  into a temporary root. rc.conf.d requires the host's exporter state
  (netflow.exporters_present): a failed converge (or boot file write) leaves it untouched.
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata, netflow_errors, netflow_host_state, netflow_rc_conf, netflow_tofs with context %}
{%- from tplroot ~ "/libtofs.jinja" import files_switch with context %}
{%- if netflow_errors %}
{%-   for error in netflow_errors %}

netflow-boot-netflow-refused-{{ loop.index }}:
  netflow.refused:
    - name: {{ error.key | tojson }}
    - comment: {{ ('refused, no boot file, rc.d script or rc.conf.d written: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%- else %}
{%-   set requisites = [] %}
{%-   if netflow_host_state %}
{#-     exporter.sls renders its one host state exactly then #}
{%-     do requisites.append('netflow: netflow-exporter-netflow-exporters_present') %}
{%-   endif %}

include:
  - {{ tplroot }}.exporter

netflow-boot-file-managed-rc-script:
  file.managed:
    - name: {{ mapdata.rc_script | tojson }}
{%-   set sources = [] %}
{%-   do files_switch(sources, netflow_tofs, ['netflow.rc'], 'netflow-boot-file-managed-rc-script') %}
    - source: {{ sources | tojson }}
    - mode: '0555'
    - makedirs: true
{%-   if mapdata.persist %}

netflow-boot-file-managed-rc-conf-d:
  file.managed:
    - name: {{ mapdata.rc_conf_d | tojson }}
    - mode: '0644'
    - makedirs: true
    - contents: {{ netflow_rc_conf | tojson }}
    - require:
      - file: netflow-boot-file-managed-rc-script
{%-     for requisite in requisites %}
      - {{ requisite }}
{%-     endfor %}
{%-   else %}

{#- persist: false -> nothing to replay at boot; `service netflow onestop` still works. #}
netflow-boot-file-absent-rc-conf-d:
  file.absent:
    - name: {{ mapdata.rc_conf_d | tojson }}
{%-   endif %}
{%- endif %}
