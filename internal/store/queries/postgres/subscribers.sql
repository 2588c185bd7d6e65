-- name: GetSubscriberWithTopics
SELECT s.id, s.email, s.status, s.frequency, s.lang, s.alerts, s.paused, s.created_at, s.confirmed_at, s.updated_at,
    COALESCE((SELECT string_agg(t.slug, ',') FROM subscriber_topics st JOIN topics t ON t.id = st.topic_id
              WHERE st.subscriber_id = s.id), '')
FROM subscribers s WHERE s.id = ?
