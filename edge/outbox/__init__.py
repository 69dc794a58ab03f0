"""Outbox stage: the durable SQLite journal of crossings with its totals and interval counts.

``journal.py`` holds ``Outbox`` (durability and threading rules in its docstring), ``tallies.py``
the schema and the per-line totals, ``cap.py`` the row cap.
"""

from __future__ import annotations

from edge.outbox.journal import Outbox
from edge.outbox.tallies import IntervalCounts, Totals

__all__ = ["IntervalCounts", "Outbox", "Totals"]
