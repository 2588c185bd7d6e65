-- Every bounce and complaint recorded about a reader, whichever way it came
-- in (an SMTP refusal at RCPT, a delivery status notification, a provider's
-- webhook). Soft bounces are counted from here; the reader's history in the
-- API, their data download and the desk reads it. Gone with the reader.
CREATE TABLE bounces (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    at            INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT '',
    diagnostic    TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    delivery_id   INTEGER,
    run_id        INTEGER,
    alert_id      INTEGER
);
CREATE INDEX bounces_subscriber ON bounces (subscriber_id, kind, at);
CREATE INDEX bounces_run ON bounces (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX bounces_alert ON bounces (alert_id) WHERE alert_id IS NOT NULL;
-- The same report told twice (a provider retrying its webhook, a mailbox
-- read again) is one bounce: per delivery and kind when the delivery is
-- known, else per reader, kind and time.
CREATE UNIQUE INDEX bounces_delivery_once ON bounces (delivery_id, kind) WHERE delivery_id IS NOT NULL;
CREATE UNIQUE INDEX bounces_event_once ON bounces (subscriber_id, kind, at) WHERE delivery_id IS NULL;

-- Reports that could not be parsed or matched, kept (capped) for an admin
-- to read instead of being guessed at.
CREATE TABLE parked_reports (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    size   INTEGER NOT NULL,
    raw    BLOB NOT NULL
);
CREATE INDEX parked_reports_at ON parked_reports (at);

-- Push subscriptions aged out by the janitor, counted by why.
CREATE TABLE push_prunes (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    reason TEXT NOT NULL,
    pruned INTEGER NOT NULL
);
-- The janitor asks, per subscription, when it last had a delivery and
-- since when every message failed.
CREATE INDEX push_deliveries_subscription ON push_deliveries (subscription_id, state, created_at);
