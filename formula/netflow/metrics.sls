# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Prometheus metrics of the exporters for node_exporter's textfile collector, on a Salt
  schedule (off by default). Pillar (every value validated here, each rendered with
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
{%- from tplroot ~ "/map.jinja" import mapdata with context %}
{%- set raw = mapdata.get('metrics', {}) %}
{%- set known = ('enabled', 'textfile_dir', 'file', 'interval') %}
{%- set errors = [] %}
{%- if raw is none %}
{%-   set raw = {} %}
{%- endif %}
{%- if raw is not mapping %}
{%-   do errors.append('netflow:metrics: must be a mapping, got ' ~ (raw | string | tojson)) %}
{%-   set raw = {} %}
{%- endif %}
{%- set m = {'enabled': false, 'textfile_dir': '/var/tmp/node_exporter', 'file': 'netflow.prom', 'interval': 60} %}
{%- for key, value in raw.items() %}
{%-   if key is not string or key not in known %}
{%-     do errors.append('netflow:metrics: unknown key ' ~ (key | string | tojson) ~ ' (known: ' ~ (known | join(', ')) ~ ')') %}
{%-   else %}
{%-     do m.update({key: value}) %}
{%-   endif %}
{%- endfor %}
{%- if m.enabled is not sameas true and m.enabled is not sameas false %}
{%-   do errors.append('netflow:metrics:enabled: ' ~ (m.enabled | string | tojson) ~ ' is not true or false') %}
{%- endif %}
{%- if not (m.textfile_dir is string and m.textfile_dir is match('/[A-Za-z0-9_./+-]{0,1000}\\Z')
            and '..' not in m.textfile_dir.split('/')) %}
{%-   do errors.append('netflow:metrics:textfile_dir: ' ~ (m.textfile_dir | string | tojson) ~ ' is not a safe absolute '
                       ~ 'path (letters, digits and _ . / + -, no .. component)') %}
{%- endif %}
{%- if not (m.file is string and m.file is match('[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}\\.prom\\Z')) %}
{%-   do errors.append('netflow:metrics:file: ' ~ (m.file | string | tojson) ~ ' is not a file name ending in .prom') %}
{%- endif %}
{%- if m.interval is sameas true or m.interval is sameas false or m.interval is not integer
       or m.interval < 10 or m.interval > 86400 %}
{%-   do errors.append('netflow:metrics:interval: ' ~ (m.interval | string | tojson) ~ ' is not an integer 10..86400') %}
{%- endif %}
{%- if errors %}
{%-   for error in errors %}

netflow-metrics-test-configurable_test_state-invalid-{{ loop.index }}:
  test.configurable_test_state:
    - name: netflow:metrics
    - result: false
    - changes: false
    - allow_test_mode_failure: true
    - comment: {{ ('refused, metrics schedule unchanged: ' ~ error) | tojson }}
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
        path: {{ (m.textfile_dir.rstrip('/') ~ '/' ~ m.file) | tojson }}
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
