-- name: AutoRules
SELECT r.id, COALESCE(t.slug, ''), COALESCE(r.feed_url, ''), r.mode, r.min_interval, r.max_age, r.last_alert_at
FROM auto_alerts r LEFT JOIN topics t ON t.id = r.topic_id
ORDER BY t.slug, r.feed_url

-- name: UpsertTopicRule
INSERT INTO auto_alerts (topic_id, mode, min_interval, max_age) VALUES (?, ?, ?, ?)
ON CONFLICT (topic_id) DO UPDATE SET mode = excluded.mode, min_interval = excluded.min_interval, max_age = excluded.max_age

-- name: UpsertFeedRule
INSERT INTO auto_alerts (feed_url, mode, min_interval, max_age) VALUES (?, ?, ?, ?)
ON CONFLICT (feed_url) DO UPDATE SET mode = excluded.mode, min_interval = excluded.min_interval, max_age = excluded.max_age

-- name: UnseenArticles
SELECT a.id, a.url, a.title, a.summary, a.image_url, a.published_at, a.created_at, a.breaking, a.feed, COALESCE(t.slug, '')
FROM articles a LEFT JOIN article_topics at ON at.article_id = a.id LEFT JOIN topics t ON t.id = at.topic_id
WHERE a.id IN (SELECT id FROM articles WHERE auto_seen = 0 ORDER BY id LIMIT ?)
ORDER BY a.id

-- name: MarkArticleSeen
UPDATE articles SET auto_seen = 1 WHERE id = ? AND auto_seen = 0

-- name: TakeAutoInterval
-- One automatic alert per rule per interval: the rule's last alert moves
-- to now only when it is older than the interval.
UPDATE auto_alerts SET last_alert_at = ? WHERE id = ? AND last_alert_at <= ?
