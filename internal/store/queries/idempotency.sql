-- name: ForgetExpiredIdempotencyKey
-- A key older than its 24 hours is forgotten by the request that reuses
-- it, not only by the janitor, so that the reuse sends.
DELETE FROM alert_idempotency WHERE scope = ? AND idem_key = ? AND created_at < ?

-- name: InsertIdempotencyKey
-- Of two transactions inserting the same key, the second waits for the
-- first (PostgreSQL's unique index, SQLite's single writer) and inserts
-- nothing once it committed.
INSERT INTO alert_idempotency (scope, idem_key, request_hash, alert_id, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (scope, idem_key) DO NOTHING

-- name: GetIdempotencyKey
SELECT alert_id, request_hash FROM alert_idempotency WHERE scope = ? AND idem_key = ? AND created_at >= ?

-- name: DeleteExpiredIdempotencyKeys
DELETE FROM alert_idempotency WHERE created_at < ?
