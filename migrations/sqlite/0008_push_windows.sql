-- The push fan-out in windows: an alert's browsers are queued as windows of
-- up to 256 subscription ids, one row each, instead of a row per browser.
-- A worker claims, renews and records a window, not each message. Store
-- work per message in BenchmarkPushQueue (SQLite): 11.6 µs with a row each
-- (enqueue 2.2, claim 5.5, record 3.9), 3.8 µs in windows (0.6, 1.9, 1.3);
-- PostgreSQL's CPU per push in crieur-bench: 61-104 µs, then 13-14 µs.
--
-- subs lists the window's subscription ids ("1,2,3"); done lists those
-- handled so far (",2,3"), appended by each recording transaction, so that
-- a window taken back from a dead worker sends only the rest. claims counts
-- the claims: a recording for an older claim than the window's is stale
-- and changes nothing. A message that does not simply go out (a retry, a
-- failure, an expiry) becomes a push_deliveries row, as before.
-- AUTOINCREMENT: a window id is never reused.
CREATE TABLE push_windows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id   INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    subs       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    done       TEXT NOT NULL DEFAULT '',
    handled    INTEGER NOT NULL DEFAULT 0,
    state      TEXT NOT NULL,
    claims     INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    locked_at  INTEGER,
    locked_by  TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX push_windows_pending ON push_windows (id) WHERE state = 'pending';
CREATE INDEX push_windows_claimed ON push_windows (locked_at) WHERE state = 'sending';
CREATE INDEX push_windows_alert ON push_windows (alert_id);
