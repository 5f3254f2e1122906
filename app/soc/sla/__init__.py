"""SLA for alerts and cases: per-severity targets, the clock on each row, breaches, MTTA and MTTR.

The public entry points other domains (dashboards, board reports) use:
`mean_times(window_days)`, `check_breaches(now)`, `current_targets()`.
"""

from app.soc.sla.breaches import check_breaches
from app.soc.sla.queries import mean_times
from app.soc.sla.targets import current_targets, update_targets

__all__ = ["check_breaches", "current_targets", "mean_times", "update_targets"]
