"""The reports service's own settings, read once when the service starts
(``ReportsConfig.from_env``): a bad value stops it with a clear error.

``REPORTS_FCR_WINDOW_DAYS`` (7): how long a ticket solved on first contact
must stay solved to count as such. A change applies to the tickets measured
from then on; ``make rebuild-projections`` applies it to history.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

FCR_WINDOW_DAYS = (1, 90)


@dataclass(frozen=True, slots=True)
class ReportsConfig:
    fcr_window_days: int = 7

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "ReportsConfig":
        raw = env.get("REPORTS_FCR_WINDOW_DAYS", "").strip()
        if not raw:
            return cls()
        low, high = FCR_WINDOW_DAYS
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise ValueError(f"REPORTS_FCR_WINDOW_DAYS must be a whole number of days from {low} to {high}, "
                             f"got {raw!r}")
        return cls(fcr_window_days=int(raw))


DEFAULTS = ReportsConfig()
