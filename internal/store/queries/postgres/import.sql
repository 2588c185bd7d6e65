-- PostgreSQL only: a subscriber import's batch in a few statements instead
-- of several round trips per row (see importBatchPostgres).

-- name: ImportSuppressedAmong
SELECT hash FROM suppressions WHERE hash = ANY (?::text[])

-- name: ImportExistingAmong
-- Addresses compared lower-cased, as GetSubscriberByEmail does (the
-- lower(email) index of migration 0005).
SELECT lower(email) FROM subscribers WHERE lower(email) = ANY (?::text[])

-- name: ImportInsertSubscribers
INSERT INTO subscribers (email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at, timezone)
SELECT lower(u.email), u.status, u.frequency, u.lang, u.alerts, 0, ?, u.confirmed_at, ?, u.timezone
FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[]) AS u(email, status, frequency, lang, alerts, confirmed_at, timezone)
RETURNING id, email

-- name: ImportInsertTopics
INSERT INTO subscriber_topics (subscriber_id, topic_id)
SELECT * FROM unnest(?::bigint[], ?::bigint[])
ON CONFLICT DO NOTHING

-- name: ImportInsertConfirmations
INSERT INTO deliveries (kind, run_id, alert_id, subscriber_id, rcpt, articles, more, priority, state, next_attempt_at, created_at)
SELECT 'confirm', NULL, NULL, u.id, '', '', 0, 0, 'pending', ?, ?
FROM unnest(?::bigint[]) AS u(id)
