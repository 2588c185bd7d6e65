-- What readers read (see README "What readers read"). No table here names
-- a reader unless CRIEUR_TRACK_READERS=true (reader_clicks).
--
-- click_counts: clicks on tracked links (/r/TOKEN), per run or alert (the
-- other 0), article (0: an alert email's own link) and UTC day (Unix ms of
-- its midnight), readers' clicks apart from mail scanners' fetches. Added
-- to with one upsert per key and batch, so several instances count right.
CREATE TABLE click_counts (
    run_id     INTEGER NOT NULL DEFAULT 0,
    alert_id   INTEGER NOT NULL DEFAULT 0,
    article_id INTEGER NOT NULL DEFAULT 0,
    day        INTEGER NOT NULL,
    human      INTEGER NOT NULL DEFAULT 0,
    scanner    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, alert_id, article_id, day)
);
CREATE INDEX click_counts_article ON click_counts (article_id);
CREATE INDEX click_counts_day ON click_counts (day);

-- click_scopes: one row per run or alert that was clicked: the random salt
-- of its clickers' keyed hashes and how many distinct clickers it had.
-- After its first week the salt is blanked and its click_clickers rows
-- deleted: the count stays, nothing that could tell two readers apart does.
CREATE TABLE click_scopes (
    run_id     INTEGER NOT NULL DEFAULT 0,
    alert_id   INTEGER NOT NULL DEFAULT 0,
    salt       TEXT NOT NULL,
    clickers   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, alert_id)
);
CREATE TABLE click_clickers (
    run_id   INTEGER NOT NULL DEFAULT 0,
    alert_id INTEGER NOT NULL DEFAULT 0,
    hash     TEXT NOT NULL,
    PRIMARY KEY (run_id, alert_id, hash)
);

-- reader_clicks: kept only with CRIEUR_TRACK_READERS=true; in the reader's
-- data download, and gone with them (ON DELETE CASCADE).
CREATE TABLE reader_clicks (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    run_id        INTEGER NOT NULL DEFAULT 0,
    alert_id      INTEGER NOT NULL DEFAULT 0,
    article_id    INTEGER NOT NULL DEFAULT 0,
    scanner       INTEGER NOT NULL DEFAULT 0,
    at            INTEGER NOT NULL
);
CREATE INDEX reader_clicks_subscriber ON reader_clicks (subscriber_id, at);

-- sunset_asks: with CRIEUR_SUNSET_AFTER, the readers who were asked "still
-- want this?", when, and when they answered (the button, or a click); 30
-- days without an answer unsubscribe them. A reader is asked again only
-- once quiet for the whole period since their answer.
CREATE TABLE sunset_asks (
    subscriber_id INTEGER PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    asked_at      INTEGER NOT NULL,
    answered_at   INTEGER
);

-- push_events: what a browser's service worker reported of one alert, once
-- per browser (its existing subscription's id) and alert.
CREATE TABLE push_events (
    alert_id        INTEGER NOT NULL,
    subscription_id INTEGER NOT NULL,
    shown_at        INTEGER,
    clicked_at      INTEGER,
    PRIMARY KEY (alert_id, subscription_id)
);

-- alert_minutes: an alert's curve, per Unix minute: delivered is the
-- alert's running total at the end of that minute (written by the trigger
-- below, so the push pipeline's recording is untouched), shown and clicked
-- the events of that minute.
CREATE TABLE alert_minutes (
    alert_id  INTEGER NOT NULL,
    minute    INTEGER NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    shown     INTEGER NOT NULL DEFAULT 0,
    clicked   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, minute)
);
ALTER TABLE alerts ADD COLUMN shown INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN clicked INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER alerts_curve AFTER UPDATE OF delivered ON alerts
WHEN NEW.delivered <> OLD.delivered
BEGIN
    INSERT INTO alert_minutes (alert_id, minute, delivered)
    VALUES (NEW.id, CAST(strftime('%s', 'now') AS INTEGER) / 60, NEW.delivered)
    ON CONFLICT (alert_id, minute) DO UPDATE SET delivered = max(alert_minutes.delivered, excluded.delivered);
END;
