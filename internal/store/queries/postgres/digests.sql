-- PostgreSQL only: an enqueuer's batch as arrays, one statement each
-- whatever the batch's size (see insertDigestDeliveries).

-- name: InsertDigestDeliveries
INSERT INTO deliveries (kind, run_id, subscriber_id, articles, more, priority, state, next_attempt_at, created_at)
SELECT 'digest', ?, u.sub, u.arts, u.more, 1, 'pending', ?, ?
FROM unnest(?::bigint[], ?::text[], ?::bigint[]) AS u(sub, arts, more)
ON CONFLICT DO NOTHING

-- name: AdvanceCursors
UPDATE subscribers SET digest_cursor = ? WHERE digest_cursor < ? AND id = ANY (?::bigint[])
