# -*- coding: utf-8 -*-
# vim: ft=sls
{#-
  Reactor for `salt/beacon/*/netflow/*`: deliberately does NOTHING, and need not be
  configured any more (remove it from the master's `reactor:`; it stays so that a master
  still configured with it renders an empty reaction instead of an error).

  The `netflow` beacon heals on its own minion (`netflow.heal`: converge to the exporter's
  recorded declaration, with the beacon's backoff), before its event is sent; the event
  only reports (`heal`, `healed`, `heal_comment`).

  Why not here: a beacon event reaches the master inside a `_minion_event` load. Salt
  checks that the load's `id` belongs to the minion whose key signed the request, but the
  `events` list it carries is fired on the master bus as written by that minion, tags and
  data alike (salt/daemons/masterapi.py `_minion_event`; salt/beacons/__init__.py sets
  `data.id` on the minion). Any minion can therefore send `salt/beacon/<other>/netflow/lan`
  with `{"id": "<other>", "heal": true}`, and no reactor can tell it from the real one: a
  reactor that re-applied a state on `data.id` or on the tag's minion let any minion make
  the master run `state.apply` on any other. tests/integration/test_self_heal.py forges
  such events and checks that nothing runs on the minion they name.
#}
