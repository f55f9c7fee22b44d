# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  The whole pipeline, in the order the mine needs (docs/formula.md, "One pillar, both
  ends"): salt-run state.orchestrate netflow.orch.pipeline
    1. mine.update on the collectors: their netflow_addresses, which an exporter whose
       collector names a minion ({minion: nfcap1, port: 2055}) resolves at apply time;
    2. state.apply netflow on the exporters;
    3. mine.update on the exporters: their netflow_exporters (what netflow.mine reads from
       the exporters just applied), which a collector with `sources: mine` renders;
    4. state.apply netflow on the collectors;
    5. salt-run netflow.verify on both (fails the orchestration on NOTHING or LOSS).
  Each step requires the one before: a failed step stops the rest.
  The orchestration's own pillar (the `pillar=` argument of state.orchestrate, a mapping
  under the key netflow_pipeline, or the master's pillar) may set: exporters / collectors (compound targets, default
  every minion with pillar netflow:exporters / netflow:collector), window (verify's window
  in seconds, default 300, 1..604800 as netflow.verify takes it) and verify (default true).
  It is checked whole first: an unknown key, a wrong type or a window out of range renders
  only failing states naming the key, so nothing runs. Values go through `| tojson`.
#}
{%- set defaults = {'exporters': 'I@netflow:exporters:*', 'collectors': 'I@netflow:collector:*',
                    'window': 300, 'verify': true} %}
{%- set given = salt['pillar.get']('netflow_pipeline', {}) %}
{%- set errors = [] %}
{%- if given is not mapping %}
{%-   do errors.append(['netflow_pipeline', 'must be a mapping of ' ~ defaults | list | sort | join(', ')]) %}
{%- else %}
{%-   for key in given | list | sort if key is not string or key not in defaults %}
{%-     do errors.append(['netflow_pipeline:' ~ key, 'unknown key (known: ' ~ defaults | list | sort | join(', ') ~ ')']) %}
{%-   endfor %}
{%-   for key in ['exporters', 'collectors'] if key in given and (given[key] is not string or not given[key].strip()) %}
{%-     do errors.append(['netflow_pipeline:' ~ key, 'must be a compound target (a non-empty string)']) %}
{%-   endfor %}
{%-   if 'window' in given and not (given.window is integer and 1 <= given.window <= 604800) %}
{%-     do errors.append(['netflow_pipeline:window', 'must be an integer number of seconds 1..604800']) %}
{%-   endif %}
{%-   if 'verify' in given and given.verify is not sameas true and given.verify is not sameas false %}
{%-     do errors.append(['netflow_pipeline:verify', 'must be true or false']) %}
{%-   endif %}
{%- endif %}
{%- if errors %}
{%-   for key, comment in errors %}

netflow-pipeline-refused-{{ loop.index }}:
  test.fail_without_changes:
    - name: {{ key | tojson }}
    - comment: {{ ('refused, nothing run: ' ~ key ~ ': ' ~ comment) | tojson }}
{%-   endfor %}
{%- else %}
{%-   set p = {} %}
{%-   do p.update(defaults) %}
{%-   do p.update(given) %}

netflow-pipeline-mine-update-collectors:
  salt.function:
    - name: mine.update
    - tgt: {{ p.collectors | tojson }}
    - tgt_type: compound

netflow-pipeline-state-exporters:
  salt.state:
    - tgt: {{ p.exporters | tojson }}
    - tgt_type: compound
    - sls: netflow
    - require:
      - salt: netflow-pipeline-mine-update-collectors

netflow-pipeline-mine-update-exporters:
  salt.function:
    - name: mine.update
    - tgt: {{ p.exporters | tojson }}
    - tgt_type: compound
    - require:
      - salt: netflow-pipeline-state-exporters

netflow-pipeline-state-collectors:
  salt.state:
    - tgt: {{ p.collectors | tojson }}
    - tgt_type: compound
    - sls: netflow
    - require:
      - salt: netflow-pipeline-mine-update-exporters
{%-   if p.verify %}

netflow-pipeline-verify:
  salt.runner:
    - name: netflow.verify
    - tgt: {{ ('( ' ~ p.exporters ~ ' ) or ( ' ~ p.collectors ~ ' )') | tojson }}
    - tgt_type: compound
    - window: {{ p.window | tojson }}
    - require:
      - salt: netflow-pipeline-state-collectors
{%-   endif %}
{%- endif %}
