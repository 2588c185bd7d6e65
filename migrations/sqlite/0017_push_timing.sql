-- The right moment for push (issue 17).
--
-- A browser's own zone (IANA name; '' is CRIEUR_TIMEZONE), its quiet hours
-- in minutes after local midnight (quiet_from = quiet_to: none) and its
-- daily cap (0: none). day_key and day_count count the alerts it was sent
-- on its local day day_key (20261207): reserved before a send, given back
-- when the message does not go out.
ALTER TABLE push_subscriptions ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE push_subscriptions ADD COLUMN quiet_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE push_subscriptions ADD COLUMN quiet_to INTEGER NOT NULL DEFAULT 0;
ALTER TABLE push_subscriptions ADD COLUMN max_per_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE push_subscriptions ADD COLUMN day_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE push_subscriptions ADD COLUMN day_count INTEGER NOT NULL DEFAULT 0;

-- An alert's priority (breaking goes through quiet hours and caps; normal
-- waits for them), who approved it (CRIEUR_ALERT_APPROVAL, drafts), and for
-- an automatic alert: its article, and whether the article's URL must be
-- checked reachable before it goes out (check_url), with the checks made.
ALTER TABLE alerts ADD COLUMN priority TEXT NOT NULL DEFAULT 'breaking';
ALTER TABLE alerts ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN check_url INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN checks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN article_id INTEGER;

-- Articles: the CMS's "breaking" flag, the feed an article came from, and
-- whether the automatic-alert rules have looked at it (existing articles
-- are old news: marked looked at).
ALTER TABLE articles ADD COLUMN breaking INTEGER NOT NULL DEFAULT 0;
ALTER TABLE articles ADD COLUMN feed TEXT NOT NULL DEFAULT '';
ALTER TABLE articles ADD COLUMN auto_seen INTEGER NOT NULL DEFAULT 0;
UPDATE articles SET auto_seen = 1;
CREATE INDEX articles_auto_unseen ON articles (id) WHERE auto_seen = 0;

-- Automatic alerts from new articles: one rule per topic or per feed.
-- mode off|draft|send; min_interval (seconds) between two automatic alerts
-- of the rule; max_age (seconds, 0: any) of an article it raises an alert
-- for; last_alert_at (ms) its last automatic alert.
CREATE TABLE auto_alerts (
    id            INTEGER PRIMARY KEY,
    topic_id      INTEGER UNIQUE REFERENCES topics (id) ON DELETE CASCADE,
    feed_url      TEXT UNIQUE REFERENCES feeds (url) ON DELETE CASCADE,
    mode          TEXT NOT NULL,
    min_interval  INTEGER NOT NULL DEFAULT 0,
    max_age       INTEGER NOT NULL DEFAULT 0,
    last_alert_at INTEGER NOT NULL DEFAULT 0,
    CHECK ((topic_id IS NULL) <> (feed_url IS NULL))
);
