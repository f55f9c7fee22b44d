# -*- coding: utf-8 -*-
# vim: ft=sls
# Exporters first (they write the boot files), then the rc.d script that replays them.
include:
  - .exporter
  - .boot
