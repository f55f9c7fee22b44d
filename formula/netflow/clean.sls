# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Undo init.sls in reverse order:
    1. disable boot persistence (rc.conf.d file), so a reboot mid-way rebuilds nothing;
    2. every exporter absent: the declared ones and any still persisted in boot_dir
       (nodes shut down so every interface passes traffic, ipfw tee rules deleted),
       then its boot file <name>.ngctl removed (and <name>.modules / <name>.ipfw of the
       earlier three-file format);
    3. the rc.d script removed.
  rc.d/netflow stop is not needed: Salt removes the nodes itself.
  Names come from pillar keys and file names: only valid exporter names are used (a bad
  pillar key renders one failing state naming it); a bad path renders only failing states.
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata, netflow_errors, netflow_exporters, netflow_bad, netflow_persisted with context %}
{%- if netflow_errors %}
{%-   for error in netflow_errors %}

netflow-clean-test-configurable_test_state-invalid-{{ loop.index }}:
  test.configurable_test_state:
    - name: {{ error.key | tojson }}
    - result: false
    - changes: false
    - allow_test_mode_failure: true
    - comment: {{ ('refused, nothing removed: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%- else %}
{%-   set names = [] %}
{%-   for name, params in netflow_exporters %}
{%-     do names.append(name) %}
{%-   endfor %}
{%-   for name in netflow_persisted if name not in names %}
{%-     do names.append(name) %}
{%-   endfor %}
{%-   for error in netflow_bad %}

netflow-clean-test-configurable_test_state-invalid-exporter-{{ loop.index }}:
  test.configurable_test_state:
    - name: {{ error.key | tojson }}
    - result: false
    - changes: false
    - allow_test_mode_failure: true
    - comment: {{ ('not a valid exporter, so never one of ours: ' ~ error.comment) | tojson }}
{%-   endfor %}

netflow-clean-boot-file-absent-rc-conf-d:
  file.absent:
    - name: {{ mapdata.rc_conf_d | tojson }}
{%-   for name in names | sort %}

netflow-clean-exporter-netflow-exporter_absent-{{ name }}:
  netflow.exporter_absent:
    - name: {{ name | tojson }}
    - require:
      - file: netflow-clean-boot-file-absent-rc-conf-d

netflow-clean-boot-file-absent-{{ name }}-boot-files:
  file.absent:
    - names:
{%-     for ext in ('ngctl', 'modules', 'ipfw') %}
      - {{ (mapdata.boot_dir ~ '/' ~ name ~ '.' ~ ext) | tojson }}
{%-     endfor %}
    - require:
      - netflow: netflow-clean-exporter-netflow-exporter_absent-{{ name }}
{%-   endfor %}

netflow-clean-boot-file-absent-rc-script:
  file.absent:
    - name: {{ mapdata.rc_script | tojson }}
{%-   if names %}
    - require:
{%-     for name in names | sort %}
      - file: netflow-clean-boot-file-absent-{{ name }}-boot-files
{%-     endfor %}
{%-   endif %}
{%- endif %}
