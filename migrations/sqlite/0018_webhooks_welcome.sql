-- Outgoing webhooks (Standard Webhooks) and the welcome email.
--
-- An event is written to webhook_events in the transaction that changes
-- the state it tells of (a reader confirms, an alert is done ...), with one
-- webhook_deliveries row per endpoint that wants it: the outbox. Workers
-- claim deliveries as they claim emails (claims numbers, lease, owner).
CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL,
    -- the event names between commas, ",a,b,", so that one LIKE finds one
    events          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    -- the first failure of the current streak; NULL after a success
    failing_since   INTEGER,
    disabled_at     INTEGER,
    disabled_reason TEXT NOT NULL DEFAULT ''
);

CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY,
    type       TEXT NOT NULL,
    -- what the event is about ("subscriber:42", "alert:7"): deliveries of
    -- one subject to one endpoint go out in order
    subject    TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_events_subject ON webhook_events (subject);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    subject         TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    claims          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_at       INTEGER,
    locked_by       TEXT,
    status          INTEGER NOT NULL DEFAULT 0,
    latency_ms      INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at, id);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, subject, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- The welcome email's words: topic_id 0 is the email itself, a topic's
-- row is the paragraph it adds for its readers.
CREATE TABLE welcome_texts (
    topic_id   INTEGER NOT NULL,
    lang       TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (topic_id, lang)
);
