# -*- coding: utf-8 -*-
# vim: ft=sls
# Exporters first (they write the boot files), then the rc.d script that replays them and
# its rc.conf.d file (which requires every exporter state; boot.sls includes .exporter).
include:
  - .exporter
  - .boot
  - .metrics
