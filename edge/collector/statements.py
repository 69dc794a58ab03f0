"""Collector store: the SQL statements every backend shares (write side)."""

UPSERT_MINUTE = """INSERT INTO counts_minute (minute, site, device_id, line, direction, cls, n)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (minute, site, device_id, line, direction, cls)
    DO UPDATE SET n = counts_minute.n + excluded.n"""
UPSERT_HOUR = """INSERT INTO counts_hour (hour, site, device_id, line, direction, cls, n)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (hour, site, device_id, line, direction, cls)
    DO UPDATE SET n = counts_hour.n + excluded.n"""
UPSERT_DAY = """INSERT INTO counts_day (day, site, device_id, line, direction, cls, n)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (day, site, device_id, line, direction, cls)
    DO UPDATE SET n = counts_day.n + excluded.n"""
UPSERT_TOTAL = """INSERT INTO counts_total (device_id, line, direction, cls, site, n)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (device_id, line, direction, cls, site)
    DO UPDATE SET n = counts_total.n + excluded.n"""
UPSERT_DEVICE = """INSERT INTO devices (device_id, site, first_seen, last_seen)
    VALUES (?, ?, ?, ?)
    ON CONFLICT (device_id) DO UPDATE SET site = excluded.site,
    first_seen = CASE WHEN excluded.first_seen < devices.first_seen
        THEN excluded.first_seen ELSE devices.first_seen END,
    last_seen = CASE WHEN devices.last_seen IS NULL OR excluded.last_seen > devices.last_seen
        THEN excluded.last_seen ELSE devices.last_seen END"""
UPSERT_REPORT = """INSERT INTO device_reports
    (device_id, kind, name, site, ts, received_at, state, body)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (device_id, kind, name) DO UPDATE SET site = excluded.site,
    ts = excluded.ts, received_at = excluded.received_at, state = excluded.state,
    body = excluded.body
    WHERE excluded.ts > device_reports.ts OR (excluded.ts = device_reports.ts
        AND excluded.received_at >= device_reports.received_at)
        OR device_reports.ts > device_reports.received_at + ?"""
INSERT_ZONE = """INSERT INTO zone_history (device_id, zone, ts, site, body)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, zone, ts) DO NOTHING"""
UPSERT_INTERVAL = """INSERT INTO interval_counts
    (device_id, line, start_s, end_s, direction, cls, site, n)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (device_id, line, start_s, end_s, direction, cls)
    DO UPDATE SET n = excluded.n, site = excluded.site"""
INSERT_REJECT = """INSERT INTO rejects (received_at, topic, reason, excerpt, code)
    VALUES (?, ?, ?, ?, ?)"""

#: Retention (``retention.py``): marks, and per level the keys of up to N rows before a
#: cutoff (a select, then a delete by key: portable, and it tells how many went).
MARKS = "SELECT level, cutoff FROM retention_marks"
UPSERT_MARK = """INSERT INTO retention_marks (level, cutoff, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (level) DO UPDATE SET updated_at = excluded.updated_at,
    cutoff = CASE WHEN excluded.cutoff > retention_marks.cutoff
        THEN excluded.cutoff ELSE retention_marks.cutoff END"""
UPSERT_DELETED = """INSERT INTO events_deleted (device_id, outbox_id, n) VALUES (?, ?, ?)
    ON CONFLICT (device_id, outbox_id) DO UPDATE SET n = events_deleted.n + excluded.n"""
ACKED = "SELECT acked_seq FROM outbox_acks WHERE device_id = ? AND outbox_id = ?"
_AGGREGATE_KEY = "site = ? AND device_id = ? AND line = ? AND direction = ? AND cls = ?"
RETENTION_DELETES: dict[str, tuple[str, str]] = {
    # Only crossings acknowledged to their device: a redelivery is then a known duplicate.
    "events": (
        """SELECT e.device_id, e.outbox_id, e.seq, e.epoch FROM events e
            WHERE e.ts < ? AND (e.outbox_id = '' OR e.seq <= (SELECT a.acked_seq
                FROM outbox_acks a WHERE a.device_id = e.device_id
                AND a.outbox_id = e.outbox_id))
            LIMIT ?""",
        "DELETE FROM events WHERE device_id = ? AND outbox_id = ? AND seq = ? AND epoch = ?",
    ),
    "minute": (
        """SELECT minute, site, device_id, line, direction, cls FROM counts_minute
            WHERE minute < ? ORDER BY minute LIMIT ?""",
        f"DELETE FROM counts_minute WHERE minute = ? AND {_AGGREGATE_KEY}",
    ),
    "hour": (
        """SELECT hour, site, device_id, line, direction, cls FROM counts_hour
            WHERE hour < ? ORDER BY hour LIMIT ?""",
        f"DELETE FROM counts_hour WHERE hour = ? AND {_AGGREGATE_KEY}",
    ),
}
