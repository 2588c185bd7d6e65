-- Queries of the editors' admin UI (dashboard and digest runs). Portable
-- SQL: the same text runs on SQLite and PostgreSQL.

-- name: AdminReadersByTopic
SELECT t.slug, COUNT(*) FROM subscriber_topics st
JOIN topics t ON t.id = st.topic_id
JOIN subscribers s ON s.id = st.subscriber_id
WHERE s.status = 'confirmed'
GROUP BY t.slug

-- name: AdminReadersByFrequency
SELECT frequency, COUNT(*) FROM subscribers WHERE status = 'confirmed' GROUP BY frequency

-- name: AdminRunFailures
-- The NOT IN term names deliveries_run_done's predicate, as SQLite needs
-- to use that partial index (migration 0020).
SELECT d.id, COALESCE(s.email, d.rcpt), d.state, d.attempts, d.last_error
FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id
WHERE d.run_id = ? AND d.state IN ('failed', 'expired') AND d.state NOT IN ('pending', 'sending')
ORDER BY d.id LIMIT ?
