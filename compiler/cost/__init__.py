"""`mlopsc cost`: what a spec costs a month on each target, the budget gate, and actual spend.

- `prices`: the dated price tables shipped here (read lazily) and a user's own table;
- `compute`: the hourly rate of a step or server through each target's own type mapping;
- `schedule`: runs a month from cron schedules and triggers;
- `estimate`: the lines (quantity x unit price, with the assumption behind each);
- `budget`: the validate/compile gate against `cost.budget_monthly_usd`;
- `render`: text, Markdown and JSON; `actual`: recorded step hours from MLflow.
"""

from __future__ import annotations

from .estimate import estimate
from .model import Estimate, Line
from .prices import PriceBook, PricesError, read_overrides

__all__ = ["Estimate", "Line", "PriceBook", "PricesError", "estimate", "read_overrides"]
