-- name: TakeDailySlot
-- Counts one alert on the browser's local day; refused (no row) when the
-- cap is reached, unless forced (a breaking alert is counted, never held
-- back). SET expressions read the old values.
UPDATE push_subscriptions SET day_count = CASE WHEN day_key = ? THEN day_count + 1 ELSE 1 END, day_key = ?
WHERE id = ? AND (? = 1 OR max_per_day = 0 OR day_key <> ? OR day_count < max_per_day)

-- name: GiveBackDailySlot
UPDATE push_subscriptions SET day_count = day_count - 1 WHERE id = ? AND day_key = ? AND day_count > 0

-- name: PushTimingGroups
-- The browsers an alert on these topics would reach that have quiet hours
-- or a cap, grouped by what decides their timing.
SELECT ps.timezone, ps.quiet_from, ps.quiet_to, ps.max_per_day, ps.day_key, ps.day_count, COUNT(*)
FROM push_subscriptions ps
WHERE (ps.quiet_from <> ps.quiet_to OR ps.max_per_day > 0)
  AND (? = 0
       OR NOT EXISTS (SELECT 1 FROM push_subscription_topics x WHERE x.subscription_id = ps.id)
       OR EXISTS (SELECT 1 FROM push_subscription_topics pst JOIN topics t ON t.id = pst.topic_id WHERE pst.subscription_id = ps.id AND (',' || ? || ',') LIKE ('%,' || t.slug || ',%')))
GROUP BY ps.timezone, ps.quiet_from, ps.quiet_to, ps.max_per_day, ps.day_key, ps.day_count

-- name: ApproveAlert
-- A send time past (the alert waited for approval) becomes now: its TTL
-- counts from when it goes out.
UPDATE alerts SET state = CASE WHEN send_at > ? THEN 'scheduled' ELSE 'sending' END,
    send_at = CASE WHEN send_at > ? THEN send_at ELSE ? END, approved_by = ?
WHERE id = ? AND state = 'awaiting_approval'

-- name: AlertChecked
-- The automatic alert's article answered: it goes out now.
UPDATE alerts SET check_url = 0, checks = checks + 1, send_at = ? WHERE id = ? AND check_url = 1

-- name: AlertCheckLater
UPDATE alerts SET checks = checks + 1, send_at = ?, error = ? WHERE id = ? AND check_url = 1

-- name: FailAlert
UPDATE alerts SET state = 'failed', enqueued = 1, error = ?, finished_at = ? WHERE id = ? AND state IN ('scheduled', 'sending')

-- name: AwaitingAlerts
SELECT id FROM alerts WHERE state = 'awaiting_approval' ORDER BY id DESC LIMIT ?

-- name: WaitingPush
-- An alert's push messages due later than the given time: held for quiet
-- hours, or retried late.
SELECT COUNT(*) FROM push_deliveries WHERE alert_id = ? AND state = 'pending' AND next_attempt_at > ?
