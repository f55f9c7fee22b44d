# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Prometheus metrics of the exporters for node_exporter's textfile collector, on a Salt
  schedule (off by default). Pillar (every value validated by netflow.mapdata, as the rest
  of pillar netflow: any error renders only failing states; each value rendered with
  `| tojson`; pillar.example shows the keys):

    netflow:
      metrics:
        enabled: true                          # default false
        textfile_dir: /var/tmp/node_exporter   # node_exporter --collector.textfile.directory
        file: netflow.prom                     # [A-Za-z0-9_-][A-Za-z0-9_.-]*.prom
        interval: 60                           # seconds, 10..86400

  enabled: the job `netflow-metrics` runs `netflow.metrics path=<textfile_dir>/<file>`
  every `interval` seconds (the file is replaced atomically, its temp file is hidden and
  does not end in .prom), its returns are not sent to the master. Disabled: a job of that
  name in the minion's schedule is removed; nothing is rendered when there is none (so
  `salt-call --local` costs no schedule round trip).
#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mapdata, netflow_errors, netflow_metrics with context %}
{%- set m = netflow_metrics %}
{%- if netflow_errors %}
{%-   for error in netflow_errors %}

netflow-metrics-netflow-refused-{{ loop.index }}:
  netflow.refused:
    - name: {{ error.key | tojson }}
    - comment: {{ ('refused, metrics schedule unchanged: ' ~ error.comment) | tojson }}
{%-   endfor %}
{%- elif m.enabled %}

netflow-metrics-file-directory-textfile-dir:
  file.directory:
    - name: {{ m.textfile_dir | tojson }}
    - makedirs: true
    - mode: '0755'

netflow-metrics-schedule-present-netflow-metrics:
  schedule.present:
    - name: netflow-metrics
    - function: netflow.metrics
    - job_kwargs:
        path: {{ m.path | tojson }}
    - seconds: {{ m.interval | tojson }}
    - maxrunning: 1
    - return_job: false
    - run_on_start: true
    - require:
      - file: netflow-metrics-file-directory-textfile-dir
{%- elif 'netflow-metrics' in (opts.get('schedule') or {}) %}

netflow-metrics-schedule-absent-netflow-metrics:
  schedule.absent:
    - name: netflow-metrics
{%- endif %}
