-- name: PushByEndpoint
SELECT id FROM push_subscriptions WHERE endpoint = ?

-- name: InsertPush
INSERT INTO push_subscriptions (endpoint, p256dh, auth, lang, created_at, updated_at, timezone, quiet_from, quiet_to, max_per_day)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id

-- name: UpdatePush
UPDATE push_subscriptions SET p256dh = ?, auth = ?, lang = ?, updated_at = ?, timezone = ?, quiet_from = ?, quiet_to = ?, max_per_day = ? WHERE id = ?

-- name: DeletePushTopics
DELETE FROM push_subscription_topics WHERE subscription_id = ?

-- name: InsertPushTopic
INSERT INTO push_subscription_topics (subscription_id, topic_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: DeletePushByEndpoint
DELETE FROM push_subscriptions WHERE endpoint = ?

-- name: DeletePushByID
DELETE FROM push_subscriptions WHERE id = ?

-- name: CountPushRefusal
UPDATE push_subscriptions SET refusals = refusals + 1 WHERE id = ? RETURNING refusals

-- name: DeletePushRefused
DELETE FROM push_subscriptions WHERE id = ? AND refusals >= ?

-- name: ResetPushRefusals
UPDATE push_subscriptions SET refusals = 0 WHERE id = ? AND refusals > 0

-- name: CountPush
SELECT COUNT(*) FROM push_subscriptions

-- name: PushByTopic
SELECT t.slug, COUNT(*) FROM push_subscription_topics pst JOIN topics t ON t.id = pst.topic_id GROUP BY t.slug

-- name: FeedLease
UPDATE feeds SET lease_holder = ?, lease_until = ?
WHERE url = ? AND next_poll_at <= ? AND (lease_until < ? OR lease_holder = ?)

-- name: InsertFeed
INSERT INTO feeds (url) VALUES (?) ON CONFLICT (url) DO NOTHING

-- name: GetFeed
SELECT url, etag, last_modified, last_polled_at, next_poll_at, last_error, failures, items FROM feeds WHERE url = ?

-- name: ListFeeds
SELECT url, etag, last_modified, last_polled_at, next_poll_at, last_error, failures, items FROM feeds ORDER BY url

-- name: SaveFeed
UPDATE feeds SET etag = ?, last_modified = ?, last_polled_at = ?, next_poll_at = ?, last_error = ?, failures = ?, items = ?, lease_holder = '', lease_until = 0
WHERE url = ?

-- name: DeleteFeed
DELETE FROM feeds WHERE url = ?

-- name: FeedDueNow
UPDATE feeds SET next_poll_at = 0 WHERE url = ?

-- name: PushKeys
-- The keys of a claimed batch, the ids as one value (see idList).
-- The timing of a browser with quiet hours or a cap, as one value
-- (zone|from|to|cap); NULL for the others: most browsers cost one
-- NULL column, not four (BenchmarkPushQueue's claim).
SELECT id, endpoint, p256dh, auth, refusals,
    CASE WHEN quiet_from = quiet_to AND max_per_day = 0 THEN NULL ELSE timezone || '|' || quiet_from || '|' || quiet_to || '|' || max_per_day END
    FROM push_subscriptions WHERE id IN (SELECT value FROM json_each(?))
