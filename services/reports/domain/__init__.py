"""The reports' rules, in plain Python: no I/O, no clock, no framework.

- ``history``: what a ticket's events say, whatever the store's policy (a fold);
- ``metrics``: ``measure(events, policy, fcr_window_days)``, one ticket's
  ``TicketMetrics`` (business minutes on the store's hours, SLA targets met);
- ``rollups``: a ticket's ``contributions`` to the store's daily report rows
  (``Measures``: counts and minute histograms), and how rows add and subtract;
- ``summary``: report items read from rollup rows (medians, p90, rates);
- ``keywords``: the terms of a ticket's subject and first message, and their trends.

The definitions of every figure are in docs/reports.md, "Definitions".
"""
