# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Boot persistence without Salt: rc.d/netflow loads the kernel modules listed in
  <boot_dir>/*.modules and replays <boot_dir>/*.ngctl and *.ipfw (written by
  netflow.exporter_present with persist: true). It is enabled with a file under
  /etc/rc.conf.d/ (read by rc.subr's load_rc_config), so no sysrc/saltext-freebsd is needed.
  Every path comes from map.jinja, so tests can point them into a temporary root.
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata with context %}

netflow-boot-file-managed-rc-script:
  file.managed:
    - name: {{ mapdata.rc_script | json }}
    - source: salt://{{ tplroot }}/files/netflow.rc
    - mode: '0555'
    - makedirs: true

{%- if mapdata.persist %}

netflow-boot-file-managed-rc-conf-d:
  file.managed:
    - name: {{ mapdata.rc_conf_d | json }}
    - mode: '0644'
    - makedirs: true
    - contents: |
        # Managed by Salt (formula netflow, boot.sls): do not edit by hand.
        # rc.d/netflow replays the boot files of netflow.exporter_present at boot.
        netflow_enable="YES"
        netflow_boot_dir="{{ mapdata.boot_dir }}"
        netflow_ngctl="{{ mapdata.ngctl }}"
        netflow_kldload="{{ mapdata.kldload }}"
        netflow_kldstat="{{ mapdata.kldstat }}"
        netflow_ipfw="{{ mapdata.ipfw }}"
    - require:
      - file: netflow-boot-file-managed-rc-script
{%- else %}

{#- persist: false -> nothing to replay at boot; `service netflow onestop` still works. #}
netflow-boot-file-absent-rc-conf-d:
  file.absent:
    - name: {{ mapdata.rc_conf_d | json }}
{%- endif %}
