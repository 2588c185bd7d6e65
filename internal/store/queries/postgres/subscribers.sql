-- name: GetSubscriberWithTopics
SELECT s.id, s.email, s.status, s.frequency, s.lang, s.alerts, s.paused, s.created_at, s.confirmed_at, s.updated_at, s.link_gen, s.timezone,
    COALESCE((SELECT string_agg(t.slug, ',') FROM subscriber_topics st JOIN topics t ON t.id = st.topic_id
              WHERE st.subscriber_id = s.id), '')
FROM subscribers s WHERE s.id = ?

-- name: InsertSubscriber
-- PostgreSQL never reuses an identity id (see the SQLite query). Addresses are stored lower-cased, local part included (see Store.Subscribe).
INSERT INTO subscribers (email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at, timezone)
VALUES (lower(?), ?, ?, ?, ?, 0, ?, ?, ?, ?)
RETURNING id

-- name: GetSubscribersWithTopics
-- The ids as an array literal (see idList).
SELECT s.id, s.email, s.status, s.frequency, s.lang, s.alerts, s.paused, s.created_at, s.confirmed_at, s.updated_at, s.link_gen, s.timezone,
    COALESCE((SELECT string_agg(t.slug, ',') FROM subscriber_topics st JOIN topics t ON t.id = st.topic_id
              WHERE st.subscriber_id = s.id), '')
FROM subscribers s WHERE s.id = ANY (?::bigint[])
