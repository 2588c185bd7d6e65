-- PostgreSQL: several instances claim from one queue; SKIP LOCKED lets
-- each take rows the others are not already taking.

-- name: ClaimDeliveries
UPDATE deliveries SET state = 'sending', locked_at = ?, locked_by = ?, attempts = attempts + 1, claims = claims + 1
WHERE id IN (
    SELECT id FROM deliveries
    WHERE state = 'pending' AND next_attempt_at <= ?
    ORDER BY priority, next_attempt_at, id
    LIMIT ?
    FOR UPDATE SKIP LOCKED
)
RETURNING id, kind, run_id, alert_id, subscriber_id, rcpt, articles, more, attempts, meta, claims

-- name: ClaimPush
UPDATE push_deliveries SET state = 'sending', locked_at = ?, locked_by = ?, attempts = attempts + 1, claims = claims + 1
WHERE id IN (
    SELECT id FROM push_deliveries
    WHERE state = 'pending' AND next_attempt_at <= ?
    ORDER BY next_attempt_at, id
    LIMIT ?
    FOR UPDATE SKIP LOCKED
)
RETURNING id, alert_id, subscription_id, attempts, claims

-- name: ClaimPushWindows
UPDATE push_windows SET state = 'sending', locked_at = ?, locked_by = ?, claims = claims + 1, attempts = attempts + 1
WHERE id IN (SELECT id FROM push_windows WHERE state = 'pending' ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
RETURNING id, alert_id, subs, done, claims, attempts

-- name: MarkDeliveriesSent
-- The ids as an array literal (see idList). The state is tested with an IN
-- list that does not imply deliveries_claimed's predicate (state =
-- 'sending'; no row is ever in state ''): otherwise the planner scans that
-- partial index, which it believes nearly empty but which holds an entry
-- for every message claimed since the last vacuum, so each batch cost
-- more than the one before (30 buffers a row at 100,000 messages); this
-- way it looks the ids up in the primary key.
UPDATE deliveries SET state = 'sent', sent_at = ?, locked_at = NULL, last_error = ''
WHERE claims = ? AND id = ANY (?::bigint[]) AND state IN ('sending', '')
RETURNING run_id, alert_id

-- name: MarkPushSent
UPDATE push_deliveries SET state = 'sent', sent_at = ?, locked_at = NULL, last_error = '', status = ?
WHERE state = 'sending' AND claims = ? AND id = ANY (?::bigint[])

-- name: PushKeys
SELECT id, endpoint, p256dh, auth, refusals,
    CASE WHEN quiet_from = quiet_to AND max_per_day = 0 THEN NULL ELSE timezone || '|' || quiet_from || '|' || quiet_to || '|' || max_per_day END
    FROM push_subscriptions WHERE id = ANY (?::bigint[])

-- name: MarkDeliveryRetry
-- One message's outcomes test the state as MarkDeliveriesSent does, for the
-- same reason: by its id in the primary key, not by a scan of
-- deliveries_claimed and the entries of every message claimed since the
-- last vacuum (a retry storm would scan them once per retry).
UPDATE deliveries SET state = 'pending', next_attempt_at = ?, locked_at = NULL, locked_by = NULL, last_error = ?
WHERE id = ? AND claims = ? AND state IN ('sending', '')

-- name: MarkDeliveryFailed
UPDATE deliveries SET state = ?, locked_at = NULL, last_error = ?
WHERE id = ? AND claims = ? AND state IN ('sending', '')
RETURNING run_id, alert_id

-- name: ReleaseDelivery
UPDATE deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL, attempts = attempts - 1
WHERE id = ? AND claims = ? AND state IN ('sending', '')
