"""The tickets service's rules, in plain Python: no I/O, no clock, no framework.

- ``commands``: what a caller may ask of a ticket (the command records);
- ``fields``: the rules for what people type (lengths, tags, card numbers);
- ``ticket``: a ticket's state and ``evolve``/``fold`` over its events;
- ``decisions``: ``decide(state, command, now)``, the transition table;
- ``policy``: who may see a ticket, act on it, attach and download files,
  and what a store sees of a ticket the platform handles;
- ``merging``, ``bulk``: merge, unmerge and split (decisions over two
  tickets), and one action on many tickets;
- ``selfservice``, ``selfservice_settings``, ``canned``, ``templates``: the
  shopper's flows, the store's self-service settings, canned responses, and
  the ``{placeholder}`` texts they share;
- ``sla`` (with ``sla_policy``, ``sla_history``, ``calendar``): a store's SLA
  policy, the business-hours clock, and a ticket's SLA computed from its
  history (docs/agent-operations/sla.md).

The modules around this package load state, call these and store the result
(see docs/tickets.md, "Modules").
"""
