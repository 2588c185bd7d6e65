-- A breaking alert is sent once per idempotency key: the admin composer's
-- confirmation nonce, or the Idempotency-Key header of POST /api/v1/alerts.
-- The key is written in the transaction that creates the alert, and the
-- primary key lets one of two simultaneous requests (from any instance)
-- win; the other finds the first alert here. scope keeps one caller's keys
-- apart from another's ("token:ID", "user:EMAIL"). request_hash is what
-- the first request asked for ('' when not checked), so that the same key
-- with another body is refused rather than answered with the wrong alert.
-- Keys are kept 24 hours, then removed by the janitor (created_at index).
CREATE TABLE alert_idempotency (
    scope        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    alert_id     INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX alert_idempotency_created ON alert_idempotency (created_at);
