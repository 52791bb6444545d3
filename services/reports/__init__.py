"""The reports service: KPIs folded from every service's events (docs/reports.md)."""
