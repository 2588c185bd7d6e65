-- name: InsertDelivery
INSERT INTO deliveries (kind, run_id, alert_id, subscriber_id, rcpt, articles, more, priority, state, next_attempt_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)

-- name: InsertPreview
INSERT INTO deliveries (kind, subscriber_id, rcpt, articles, more, priority, state, next_attempt_at, created_at, meta)
VALUES ('preview', ?, ?, ?, ?, 0, 'pending', ?, ?, ?)

-- name: ClaimDeliveries
UPDATE deliveries SET state = 'sending', locked_at = ?, locked_by = ?, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM deliveries
    WHERE state = 'pending' AND next_attempt_at <= ?
    ORDER BY priority, next_attempt_at, id
    LIMIT ?
)
RETURNING id, kind, run_id, alert_id, subscriber_id, rcpt, articles, more, attempts, meta

-- name: MarkDeliveriesSent
-- One statement for a batch of ids (a JSON array, see idList), so that it
-- is prepared once rather than once per batch size.
UPDATE deliveries SET state = 'sent', sent_at = ?, locked_at = NULL, last_error = ''
WHERE state = 'sending' AND id IN (SELECT value FROM json_each(?))
RETURNING run_id, alert_id

-- name: MarkPushSent
UPDATE push_deliveries SET state = 'sent', sent_at = ?, locked_at = NULL, last_error = '', status = ?
WHERE state = 'sending' AND id IN (SELECT value FROM json_each(?))

-- name: MarkDeliveryRetry
UPDATE deliveries SET state = 'pending', next_attempt_at = ?, locked_at = NULL, locked_by = NULL, last_error = ?
WHERE id = ? AND state = 'sending'

-- name: MarkDeliveryFailed
UPDATE deliveries SET state = ?, locked_at = NULL, last_error = ?
WHERE id = ? AND state = 'sending'
RETURNING run_id, alert_id

-- name: ReleaseDelivery
UPDATE deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL, attempts = attempts - 1
WHERE id = ? AND state = 'sending'

-- name: RescueDeliveries
UPDATE deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_at < ?

-- name: NextDeliveryDue
SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'

-- name: PendingDeliveries
SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'sending')

-- name: ClaimPush
UPDATE push_deliveries SET state = 'sending', locked_at = ?, locked_by = ?, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM push_deliveries
    WHERE state = 'pending' AND next_attempt_at <= ?
    ORDER BY next_attempt_at, id
    LIMIT ?
)
RETURNING id, alert_id, subscription_id, attempts

-- name: MarkPushRetry
UPDATE push_deliveries SET state = 'pending', status = ?, next_attempt_at = ?, locked_at = NULL, locked_by = NULL, last_error = ?
WHERE id = ? AND state = 'sending'

-- name: MarkPushFailed
UPDATE push_deliveries SET state = ?, status = ?, locked_at = NULL, last_error = ?
WHERE id = ? AND state = 'sending'
RETURNING alert_id

-- name: ReleasePush
UPDATE push_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL, attempts = attempts - 1
WHERE id = ? AND state = 'sending'

-- name: RescuePush
UPDATE push_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_at < ?

-- name: ClaimOwners
SELECT locked_by FROM deliveries WHERE state = 'sending' AND locked_by IS NOT NULL
UNION
SELECT locked_by FROM push_deliveries WHERE state = 'sending' AND locked_by IS NOT NULL

-- name: RescueOwnerDeliveries
UPDATE deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_by = ?

-- name: RescueOwnerPush
UPDATE push_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_by = ?

-- name: NextPushDue
SELECT MIN(next_attempt_at) FROM push_deliveries WHERE state = 'pending'
