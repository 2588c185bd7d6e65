-- name: GetSubscriberByEmail
-- Case-insensitive (migration 0005 indexes lower(email)). Rows that differ
-- only by case, left from before 0005, answer as one: the lower-cased row
-- if there is one, else the oldest.
SELECT id, email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at, link_gen, timezone
FROM subscribers WHERE lower(email) = lower(?)
ORDER BY CASE WHEN email = lower(email) THEN 0 ELSE 1 END, id
LIMIT 1

-- name: GetSubscriberByID
SELECT id, email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at, link_gen, timezone
FROM subscribers WHERE id = ?

-- name: SubscriberTopics
SELECT t.slug FROM subscriber_topics st JOIN topics t ON t.id = st.topic_id
WHERE st.subscriber_id = ? ORDER BY t.slug

-- name: InsertSubscriber
-- Addresses are stored lower-cased, local part included (see Store.Subscribe).
-- The id starts above every id ever deleted (migration 0006): links name a
-- subscriber by id, and an erased reader's must never open a newcomer's.
INSERT INTO subscribers (id, email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at, timezone)
VALUES (max(COALESCE((SELECT MAX(id) FROM subscribers), 0),
            COALESCE((SELECT last_id FROM id_floor WHERE name = 'subscribers'), 0)) + 1,
        lower(?), ?, ?, ?, ?, 0, ?, ?, ?, ?)
RETURNING id

-- name: UpdateSubscriberPrefs
UPDATE subscribers SET frequency = ?, lang = ?, alerts = ?, paused = ?, updated_at = ?, timezone = ? WHERE id = ?

-- name: ResetPending
UPDATE subscribers SET status = 'pending', frequency = ?, lang = ?, alerts = ?, paused = 0,
    created_at = ?, confirmed_at = NULL, updated_at = ?, timezone = ?
WHERE id = ?

-- name: DeleteSubscriberTopics
DELETE FROM subscriber_topics WHERE subscriber_id = ?

-- name: InsertSubscriberTopic
INSERT INTO subscriber_topics (subscriber_id, topic_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: ConfirmSubscriber
UPDATE subscribers SET status = 'confirmed', confirmed_at = ?, updated_at = ? WHERE id = ? AND status = 'pending'

-- name: SetSubscriberStatus
UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?

-- name: DeleteSubscriber
DELETE FROM subscribers WHERE id = ?

-- name: CancelSubscriberDeliveries
-- Only what waits in the queue: a message a worker holds is on its way, and
-- its outcome (a bounce that caused this unsubscribe, say) is recorded when
-- it ends, not overwritten with "cancelled".
UPDATE deliveries SET state = 'cancelled', last_error = ? WHERE subscriber_id = ? AND state = 'pending'
RETURNING run_id, alert_id

-- name: ExpirePending
DELETE FROM subscribers WHERE status = 'pending' AND created_at < ?

-- name: IsSuppressed
SELECT COUNT(*) FROM suppressions WHERE hash = ?

-- name: Suppress
INSERT INTO suppressions (hash, reason, created_at) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING

-- name: Unsuppress
DELETE FROM suppressions WHERE hash = ?

-- name: ListSuppressions
SELECT hash, reason, created_at FROM suppressions ORDER BY created_at DESC LIMIT ?

-- name: CountSubscribersByStatus
SELECT status, COUNT(*) FROM subscribers GROUP BY status

-- name: ExportSubscribers
SELECT id, email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at, link_gen, timezone
FROM subscribers WHERE id > ? ORDER BY id LIMIT ?

-- name: PageTopics
SELECT st.subscriber_id, t.slug FROM subscriber_topics st JOIN topics t ON t.id = st.topic_id
WHERE st.subscriber_id >= ? AND st.subscriber_id <= ? ORDER BY st.subscriber_id, t.slug

-- name: SearchSubscribers
SELECT id, email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at, link_gen, timezone
FROM subscribers WHERE lower(email) LIKE lower(?) ORDER BY email LIMIT ?

-- name: SubscriberHistory
SELECT d.id, d.kind, d.run_id, d.alert_id, d.state, d.attempts, d.last_error, d.created_at, d.sent_at
FROM deliveries d WHERE d.subscriber_id = ? ORDER BY d.id DESC LIMIT ?

-- name: GetSubscriberWithTopics
SELECT s.id, s.email, s.status, s.frequency, s.lang, s.alerts, s.paused, s.created_at, s.confirmed_at, s.updated_at, s.link_gen, s.timezone,
    COALESCE((SELECT group_concat(t.slug, ',') FROM subscriber_topics st JOIN topics t ON t.id = st.topic_id
              WHERE st.subscriber_id = s.id), '')
FROM subscribers s WHERE s.id = ?

-- name: RevokeLinks
UPDATE subscribers SET link_gen = link_gen + 1, updated_at = ? WHERE id = ?
RETURNING link_gen

-- name: SuppressionReason
SELECT reason FROM suppressions WHERE hash = ?

-- name: TouchSubscriber
-- A write that changes nothing: a refused subscription request does the
-- same work as one that resets a pending reader (see SubscribeRequest).
UPDATE subscribers SET updated_at = updated_at WHERE id = ?

-- name: InsertRefusedConfirm
INSERT INTO deliveries (kind, subscriber_id, priority, state, last_error, next_attempt_at, created_at)
VALUES ('confirm', ?, 0, 'cancelled', ?, ?, ?)

-- name: TakeSubscriberTopics
DELETE FROM subscriber_topics WHERE subscriber_id = ? RETURNING topic_id

-- name: GetSuppression
SELECT reason, created_at FROM suppressions WHERE hash = ?

-- name: GetSubscribersWithTopics
-- GetSubscriberWithTopics for a batch of ids (a JSON array, see idList):
-- the mail workers read the readers of a claim in one query.
SELECT s.id, s.email, s.status, s.frequency, s.lang, s.alerts, s.paused, s.created_at, s.confirmed_at, s.updated_at, s.link_gen, s.timezone,
    COALESCE((SELECT group_concat(t.slug, ',') FROM subscriber_topics st JOIN topics t ON t.id = st.topic_id
              WHERE st.subscriber_id = s.id), '')
FROM subscribers s WHERE s.id IN (SELECT value FROM json_each(?))
