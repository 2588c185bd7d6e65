-- PostgreSQL only: an enqueuer's batch as arrays, one statement each
-- whatever the batch's size (see insertDigestDeliveries).

-- name: InsertDigestDeliveries
-- A reader who already has this run's digest is left out by NOT EXISTS
-- rather than ON CONFLICT DO NOTHING, whose speculative insertion costs
-- each row an extra WAL record; deliveries_subscriber_run still refuses a
-- duplicate written concurrently (the enqueue lock and AdvanceRun make
-- that impossible: the batch would fail and be redone).
INSERT INTO deliveries (kind, run_id, subscriber_id, articles, more, priority, state, next_attempt_at, created_at)
SELECT 'digest', CAST(? AS BIGINT), u.sub, u.arts, u.more, 1, 'pending', CAST(? AS BIGINT), CAST(? AS BIGINT)
FROM unnest(?::bigint[], ?::text[], ?::bigint[]) AS u(sub, arts, more)
WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscriber_id = u.sub AND d.run_id = CAST(? AS BIGINT))

-- name: AdvanceCursors
UPDATE subscribers SET digest_cursor = ? WHERE digest_cursor < ? AND id = ANY (?::bigint[])
