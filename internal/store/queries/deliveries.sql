-- name: InsertDelivery
INSERT INTO deliveries (kind, run_id, alert_id, subscriber_id, rcpt, articles, more, priority, state, next_attempt_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)

-- name: InsertPreview
INSERT INTO deliveries (kind, rcpt, articles, more, priority, state, next_attempt_at, created_at, meta)
VALUES ('preview', ?, ?, ?, 0, 'pending', ?, ?, ?)

-- name: ClaimDeliveries
UPDATE deliveries SET state = 'sending', locked_at = ?, locked_by = ?, attempts = attempts + 1, claims = claims + 1
WHERE id IN (
    SELECT id FROM deliveries
    WHERE state = 'pending' AND next_attempt_at <= ?
    ORDER BY priority, next_attempt_at, id
    LIMIT ?
)
RETURNING id, kind, run_id, alert_id, subscriber_id, rcpt, articles, more, attempts, meta, claims

-- name: MarkDeliveriesSent
-- One statement for a batch of ids (a JSON array, see idList), so that it
-- is prepared once rather than once per batch size. Every outcome names
-- the claim it was sent under (migration 0012): a row claimed again since
-- is not changed.
UPDATE deliveries SET state = 'sent', sent_at = ?, locked_at = NULL, last_error = ''
WHERE state = 'sending' AND claims = ? AND id IN (SELECT value FROM json_each(?))
RETURNING run_id, alert_id

-- name: MarkPushSent
UPDATE push_deliveries SET state = 'sent', sent_at = ?, locked_at = NULL, last_error = '', status = ?
WHERE state = 'sending' AND claims = ? AND id IN (SELECT value FROM json_each(?))

-- name: MarkDeliveryRetry
UPDATE deliveries SET state = 'pending', next_attempt_at = ?, locked_at = NULL, locked_by = NULL, last_error = ?
WHERE id = ? AND claims = ? AND state = 'sending'

-- name: MarkDeliveryFailed
UPDATE deliveries SET state = ?, locked_at = NULL, last_error = ?
WHERE id = ? AND claims = ? AND state = 'sending'
RETURNING run_id, alert_id

-- name: ReleaseDelivery
UPDATE deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL, attempts = attempts - 1
WHERE id = ? AND claims = ? AND state = 'sending'

-- name: RescueDeliveries
UPDATE deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_at < ?

-- name: NextDeliveryDue
SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'

-- name: PendingDeliveries
SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'sending')

-- name: ClaimPush
UPDATE push_deliveries SET state = 'sending', locked_at = ?, locked_by = ?, attempts = attempts + 1, claims = claims + 1
WHERE id IN (
    SELECT id FROM push_deliveries
    WHERE state = 'pending' AND next_attempt_at <= ?
    ORDER BY next_attempt_at, id
    LIMIT ?
)
RETURNING id, alert_id, subscription_id, attempts, claims

-- name: ClaimPushWindows
UPDATE push_windows SET state = 'sending', locked_at = ?, locked_by = ?, claims = claims + 1, attempts = attempts + 1
WHERE id IN (SELECT id FROM push_windows WHERE state = 'pending' ORDER BY id LIMIT ?)
RETURNING id, alert_id, subs, done, claims, attempts

-- name: RecordPushWindow
-- Adds handled subscriptions to a window still under the same claim; the
-- window is done when all are. (SET expressions read the old values.)
UPDATE push_windows SET done = done || ?, handled = handled + ?,
    state = CASE WHEN handled + ? >= size THEN 'done' ELSE state END
WHERE id = ? AND state = 'sending' AND claims = ?

-- name: InsertPushOutcome
-- A window's message that did not simply go out: a retry queued as a row of
-- its own, or a final outcome kept with its reason. A subscription deleted
-- meanwhile is NULL, as ON DELETE SET NULL would have made it.
INSERT INTO push_deliveries (alert_id, subscription_id, state, attempts, next_attempt_at, status, last_error, created_at)
VALUES (?, (SELECT id FROM push_subscriptions WHERE id = ?), ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING

-- name: ReleasePushWindows
-- At shutdown, after every outcome is recorded: the windows go back to the
-- queue with their unhandled browsers, the claim not counted as an attempt.
UPDATE push_windows SET state = 'pending', locked_at = NULL, locked_by = NULL, attempts = attempts - 1
WHERE state = 'sending' AND locked_by = ?

-- name: MarkPushRetry
UPDATE push_deliveries SET state = 'pending', status = ?, next_attempt_at = ?, locked_at = NULL, locked_by = NULL, last_error = ?
WHERE id = ? AND claims = ? AND state = 'sending'

-- name: MarkPushFailed
UPDATE push_deliveries SET state = ?, status = ?, locked_at = NULL, last_error = ?
WHERE id = ? AND claims = ? AND state = 'sending'
RETURNING alert_id

-- name: ReleasePush
UPDATE push_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL, attempts = attempts - 1
WHERE id = ? AND claims = ? AND state = 'sending'

-- name: RescuePush
UPDATE push_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_at < ?

-- name: RescuePushWindows
UPDATE push_windows SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_at < ?

-- name: ClaimOwners
SELECT locked_by FROM deliveries WHERE state = 'sending' AND locked_by IS NOT NULL
UNION
SELECT locked_by FROM push_deliveries WHERE state = 'sending' AND locked_by IS NOT NULL
UNION
SELECT locked_by FROM push_windows WHERE state = 'sending' AND locked_by IS NOT NULL

-- name: RescueOwnerDeliveries
UPDATE deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_by = ?

-- name: RescueOwnerPush
UPDATE push_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_by = ?

-- name: RescueOwnerPushWindows
UPDATE push_windows SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_by = ?

-- name: NextPushDue
-- A queued window is due at once.
SELECT MIN(t) FROM (
    SELECT MIN(next_attempt_at) AS t FROM push_deliveries WHERE state = 'pending'
    UNION ALL
    SELECT MIN(created_at) FROM push_windows WHERE state = 'pending'
) due
