-- Times are Unix milliseconds (INTEGER) in both dialects, so that the same
-- queries compare them the same way.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE topics (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE subscribers (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL,
    frequency     TEXT NOT NULL,
    lang          TEXT NOT NULL,
    alerts        INTEGER NOT NULL DEFAULT 0,
    paused        INTEGER NOT NULL DEFAULT 0,
    -- highest article id already handed to this reader by a digest; 0: never
    digest_cursor INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    confirmed_at  INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX subscribers_digest ON subscribers (frequency, status, paused, id);
CREATE INDEX subscribers_pending ON subscribers (status, created_at);

CREATE TABLE subscriber_topics (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    topic_id      INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, topic_id)
);
CREATE INDEX subscriber_topics_topic ON subscriber_topics (topic_id);

-- A keyed hash of every address that unsubscribed, bounced or was erased.
CREATE TABLE suppressions (
    hash       TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

CREATE TABLE articles (
    id           INTEGER PRIMARY KEY,
    guid         TEXT UNIQUE,
    url          TEXT NOT NULL,
    title        TEXT NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    image_url    TEXT NOT NULL DEFAULT '',
    author       TEXT NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX articles_url ON articles (url);
CREATE INDEX articles_created ON articles (created_at);

CREATE TABLE article_topics (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    topic_id   INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    PRIMARY KEY (article_id, topic_id)
);

CREATE TABLE digest_runs (
    id              INTEGER PRIMARY KEY,
    frequency       TEXT NOT NULL,
    scheduled_at    INTEGER NOT NULL,
    state           TEXT NOT NULL,
    -- articles with id <= max_article_id are considered by this run
    max_article_id  INTEGER NOT NULL DEFAULT 0,
    -- enqueuing walks subscribers by id; progress survives a crash
    enqueue_after   INTEGER NOT NULL DEFAULT 0,
    enqueued        INTEGER NOT NULL DEFAULT 0,
    recipients      INTEGER NOT NULL DEFAULT 0,
    skipped_empty   INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    UNIQUE (frequency, scheduled_at)
);

CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    url          TEXT NOT NULL,
    image_url    TEXT NOT NULL DEFAULT '',
    topics       TEXT NOT NULL DEFAULT '',
    ttl_seconds  INTEGER NOT NULL,
    urgency      TEXT NOT NULL,
    topic_header TEXT NOT NULL,
    email        INTEGER NOT NULL DEFAULT 0,
    replaces     INTEGER,
    state        TEXT NOT NULL,
    send_at      INTEGER NOT NULL,
    enqueued     INTEGER NOT NULL DEFAULT 0,
    -- enqueuing walks push subscriptions, then subscribers, by id
    enqueue_after INTEGER NOT NULL DEFAULT 0,
    email_after  INTEGER NOT NULL DEFAULT 0,
    targeted     INTEGER NOT NULL DEFAULT 0,
    emails       INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX alerts_due ON alerts (enqueued, send_at);

CREATE TABLE alert_topics (
    alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    topic_id INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    PRIMARY KEY (alert_id, topic_id)
);

-- The email queue: one row per message to send.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    run_id          INTEGER,
    alert_id        INTEGER,
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    rcpt            TEXT NOT NULL DEFAULT '',
    articles        TEXT NOT NULL DEFAULT '',
    more            INTEGER NOT NULL DEFAULT 0,
    -- 0 goes first: a reader waiting for a confirmation or an alert
    -- should not wait behind a morning digest
    priority        INTEGER NOT NULL DEFAULT 1,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_at       INTEGER,
    locked_by       TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX deliveries_due ON deliveries (state, priority, next_attempt_at, id);
CREATE INDEX deliveries_run ON deliveries (run_id, state);
CREATE INDEX deliveries_alert ON deliveries (alert_id, state);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
CREATE UNIQUE INDEX deliveries_run_subscriber ON deliveries (run_id, subscriber_id);

CREATE TABLE push_subscriptions (
    id         INTEGER PRIMARY KEY,
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     TEXT NOT NULL,
    auth       TEXT NOT NULL,
    lang       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE push_subscription_topics (
    subscription_id INTEGER NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    topic_id        INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, topic_id)
);
CREATE INDEX push_subscription_topics_topic ON push_subscription_topics (topic_id);

-- The push queue: one row per (alert, browser).
CREATE TABLE push_deliveries (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    subscription_id INTEGER REFERENCES push_subscriptions (id) ON DELETE SET NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_at       INTEGER,
    locked_by       TEXT,
    status          INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX push_deliveries_due ON push_deliveries (state, next_attempt_at, id);
CREATE INDEX push_deliveries_alert ON push_deliveries (alert_id, state);
CREATE UNIQUE INDEX push_deliveries_alert_sub ON push_deliveries (alert_id, subscription_id);

CREATE TABLE feeds (
    url            TEXT PRIMARY KEY,
    etag           TEXT NOT NULL DEFAULT '',
    last_modified  TEXT NOT NULL DEFAULT '',
    last_polled_at INTEGER,
    next_poll_at   INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT NOT NULL DEFAULT '',
    failures       INTEGER NOT NULL DEFAULT 0,
    items          INTEGER NOT NULL DEFAULT 0,
    lease_holder   TEXT NOT NULL DEFAULT '',
    lease_until    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
