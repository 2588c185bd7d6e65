-- name: DeliveryBounceRefs
SELECT subscriber_id, run_id, alert_id FROM deliveries WHERE id = ?

-- name: InsertBounce
-- A report told twice is one bounce (see the unique indexes of 0013).
INSERT INTO bounces (subscriber_id, at, kind, status, diagnostic, source, delivery_id, run_id, alert_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING

-- name: SubscriberStatus
SELECT status, email FROM subscribers WHERE id = ?

-- name: CountSoftBounces
SELECT COUNT(*) FROM bounces WHERE subscriber_id = ? AND kind = 'soft' AND at > ? AND at <= ?

-- name: SuppressHard
-- A bounce or complaint outranks an earlier unsubscribe: the address
-- becomes one a subscription request cannot lift.
INSERT INTO suppressions (hash, reason, created_at) VALUES (?, ?, ?)
ON CONFLICT (hash) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at

-- name: SubscriberBounces
SELECT id, subscriber_id, at, kind, status, diagnostic, source, delivery_id, run_id, alert_id
FROM bounces WHERE subscriber_id = ? ORDER BY at DESC, id DESC LIMIT ?

-- name: BouncesByDay
-- Days are UTC days since the epoch.
SELECT at / 86400000 AS day, kind, COUNT(*) FROM bounces WHERE at >= ? GROUP BY at / 86400000, kind ORDER BY day

-- name: RunHealth
-- The NOT IN term names deliveries_run_done's predicate (see
-- AdminRunFailures).
SELECT r.id, r.frequency, r.scheduled_at,
  (SELECT COUNT(*) FROM deliveries d WHERE d.run_id = r.id AND d.state = 'sent' AND d.state NOT IN ('pending', 'sending')),
  (SELECT COUNT(DISTINCT b.delivery_id) FROM bounces b WHERE b.run_id = r.id AND b.kind <> 'complaint'),
  (SELECT COUNT(*) FROM bounces b WHERE b.run_id = r.id AND b.kind = 'complaint')
FROM digest_runs r ORDER BY r.id DESC LIMIT ?

-- name: AlertEmailHealth
SELECT a.id, a.title, a.send_at,
  (SELECT COUNT(*) FROM deliveries d WHERE d.alert_id = a.id AND d.state = 'sent'),
  (SELECT COUNT(DISTINCT b.delivery_id) FROM bounces b WHERE b.alert_id = a.id AND b.kind <> 'complaint'),
  (SELECT COUNT(*) FROM bounces b WHERE b.alert_id = a.id AND b.kind = 'complaint')
FROM alerts a WHERE a.email <> 0 ORDER BY a.id DESC LIMIT ?

-- name: InsertParked
INSERT INTO parked_reports (at, source, reason, size, raw) VALUES (?, ?, ?, ?, ?)

-- name: TrimParked
-- Only the newest are kept: a flood of junk cannot fill the disk.
DELETE FROM parked_reports WHERE id <= (SELECT id FROM parked_reports ORDER BY id DESC LIMIT 1 OFFSET ?)

-- name: ListParked
SELECT id, at, source, reason, size FROM parked_reports ORDER BY id DESC LIMIT ?

-- name: GetParked
SELECT id, at, source, reason, size, raw FROM parked_reports WHERE id = ?

-- name: CountParked
SELECT COUNT(*) FROM parked_reports

-- name: FailingPush
-- Subscriptions older than the window whose every message failed for it:
-- a failure at least that old with no delivery since it.
SELECT s.id FROM push_subscriptions s WHERE s.created_at <= ? AND EXISTS (
  SELECT 1 FROM push_deliveries f
  WHERE f.subscription_id = s.id AND f.state = 'failed' AND f.created_at <= ?
    AND NOT EXISTS (SELECT 1 FROM push_deliveries ok WHERE ok.subscription_id = s.id
                    AND ok.state = 'sent' AND ok.created_at >= f.created_at))

-- name: StalePush
-- Subscriptions older than the window whose messages within it failed and
-- none was delivered; one no alert was meant for (or whose alerts only
-- expired in its quiet hours) is left alone.
SELECT s.id FROM push_subscriptions s WHERE s.created_at <= ? AND EXISTS (
  SELECT 1 FROM push_deliveries t WHERE t.subscription_id = s.id AND t.state = 'failed' AND t.created_at > ?)
  AND NOT EXISTS (SELECT 1 FROM push_deliveries ok WHERE ok.subscription_id = s.id AND ok.state = 'sent' AND ok.created_at > ?)

-- name: InsertPushPrune
INSERT INTO push_prunes (at, reason, pruned) VALUES (?, ?, ?)

-- name: PushPrunes
SELECT reason, CAST(SUM(pruned) AS BIGINT) FROM push_prunes WHERE at >= ? GROUP BY reason
