-- name: InsertAlert
INSERT INTO alerts (title, body, url, image_url, topics, ttl_seconds, urgency, topic_header, email, replaces, state, send_at, created_by, created_at,
    priority, check_url, article_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id

-- name: InsertAlertTopic
INSERT INTO alert_topics (alert_id, topic_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: AlertProgress
SELECT enqueued, enqueue_after, email_after, email FROM alerts WHERE id = ?

-- name: GetAlert
SELECT id, title, body, url, image_url, topics, ttl_seconds, urgency, topic_header, email, replaces, state, send_at, enqueued, enqueue_after, email_after, targeted, emails, error, created_by, created_at,
    priority, approved_by, check_url, checks, article_id
FROM alerts WHERE id = ?

-- name: ListAlerts
SELECT id, title, body, url, image_url, topics, ttl_seconds, urgency, topic_header, email, replaces, state, send_at, enqueued, enqueue_after, email_after, targeted, emails, error, created_by, created_at,
    priority, approved_by, check_url, checks, article_id
FROM alerts ORDER BY id DESC LIMIT ?

-- name: AlertsToEnqueue
SELECT id FROM alerts WHERE enqueued = 0 AND state IN ('sending', 'scheduled') AND send_at <= ? ORDER BY id

-- name: StartAlert
UPDATE alerts SET state = 'sending' WHERE id = ? AND state = 'scheduled'

-- name: PushWindowEnd
SELECT MAX(id) FROM (SELECT id FROM push_subscriptions WHERE id > ? ORDER BY id LIMIT ?) w

-- name: PushWindowSubs
-- The browsers of an alert among subscriptions (after, end], in id order.
SELECT ps.id FROM push_subscriptions ps
WHERE ps.id > ? AND ps.id <= ?
  AND (NOT EXISTS (SELECT 1 FROM alert_topics a WHERE a.alert_id = ?)
       OR NOT EXISTS (SELECT 1 FROM push_subscription_topics x WHERE x.subscription_id = ps.id)
       OR EXISTS (SELECT 1 FROM push_subscription_topics pst JOIN alert_topics a2 ON a2.topic_id = pst.topic_id
                  WHERE a2.alert_id = ? AND pst.subscription_id = ps.id))
ORDER BY ps.id

-- name: InsertPushWindow
INSERT INTO push_windows (alert_id, subs, size, state, created_at) VALUES (?, ?, ?, 'pending', ?)

-- Enqueuing is optimistic: a window is written only by the transaction
-- that moves the progress column from the value it read. That update comes
-- first, so it also holds the alert's row lock while the window is written:
-- another instance working on the same alert waits, then finds the progress
-- moved and writes nothing.

-- name: AdvanceAlertPush
UPDATE alerts SET enqueue_after = ? WHERE id = ? AND enqueue_after = ? AND enqueued = 0

-- name: AddAlertTargeted
UPDATE alerts SET targeted = targeted + ? WHERE id = ?

-- name: EmailWindowEnd
SELECT MAX(id) FROM (SELECT id FROM subscribers WHERE id > ? ORDER BY id LIMIT ?) w

-- name: EnqueueEmailWindow
INSERT INTO deliveries (kind, alert_id, subscriber_id, rcpt, articles, more, priority, state, next_attempt_at, created_at)
SELECT 'alert', ?, s.id, '', '', 0, 0, 'pending', ?, ? FROM subscribers s
WHERE s.id > ? AND s.id <= ? AND s.status = 'confirmed' AND s.alerts = 1 AND s.paused = 0
  AND (NOT EXISTS (SELECT 1 FROM alert_topics a WHERE a.alert_id = ?)
       OR NOT EXISTS (SELECT 1 FROM subscriber_topics x WHERE x.subscriber_id = s.id)
       OR EXISTS (SELECT 1 FROM subscriber_topics st JOIN alert_topics a2 ON a2.topic_id = st.topic_id
                  WHERE a2.alert_id = ? AND st.subscriber_id = s.id))

-- name: AdvanceAlertEmail
UPDATE alerts SET email_after = ? WHERE id = ? AND email_after = ? AND enqueued = 0

-- name: AddAlertEmails
UPDATE alerts SET emails = emails + ? WHERE id = ?

-- name: FinishAlertEnqueue
UPDATE alerts SET enqueued = 1 WHERE id = ? AND enqueued = 0

-- name: CancelAlert
UPDATE alerts SET state = 'cancelled', enqueued = 1, finished_at = ? WHERE id = ? AND state IN ('awaiting_approval', 'scheduled', 'sending')

-- name: CancelAlertPush
UPDATE push_deliveries SET state = 'cancelled' WHERE alert_id = ? AND state = 'pending'

-- name: CancelAlertWindows
UPDATE push_windows SET state = 'cancelled' WHERE alert_id = ? AND state = 'pending'
RETURNING size - handled

-- name: CancelAlertEmail
UPDATE deliveries SET state = 'cancelled' WHERE alert_id = ? AND state = 'pending'

-- name: OpenAlerts
SELECT id FROM alerts WHERE state = 'sending' AND enqueued = 1

-- name: FinishAlert
UPDATE alerts SET state = ?, finished_at = ? WHERE id = ? AND state = 'sending'

-- name: AlertTopicHeader
SELECT topic_header FROM alerts WHERE id = ?

-- name: PushAudience
SELECT COUNT(*) FROM push_subscriptions ps
WHERE (? = 0
       OR NOT EXISTS (SELECT 1 FROM push_subscription_topics x WHERE x.subscription_id = ps.id)
       OR EXISTS (SELECT 1 FROM push_subscription_topics pst JOIN topics t ON t.id = pst.topic_id WHERE pst.subscription_id = ps.id AND (',' || ? || ',') LIKE ('%,' || t.slug || ',%')))

-- name: EmailAudience
SELECT COUNT(*) FROM subscribers s
WHERE s.status = 'confirmed' AND s.alerts = 1 AND s.paused = 0
  AND (? = 0
       OR NOT EXISTS (SELECT 1 FROM subscriber_topics x WHERE x.subscriber_id = s.id)
       OR EXISTS (SELECT 1 FROM subscriber_topics st JOIN topics t ON t.id = st.topic_id WHERE st.subscriber_id = s.id AND (',' || ? || ',') LIKE ('%,' || t.slug || ',%')))

-- name: AlertBusy
-- Whether an alert still has messages to send. For push messages the unary
-- plus keeps the planner off the per-alert index, which would walk every
-- row of the alert: the queue's partial indexes hold only pending and
-- claimed rows, and in push_deliveries those belong to the few alerts
-- going out now, so the scan stops at once. Emails share their table with
-- digests, whose pending rows can be millions: those go by the alert's
-- index.
SELECT EXISTS (SELECT 1 FROM push_deliveries WHERE state = 'pending' AND +alert_id = ?)
    OR EXISTS (SELECT 1 FROM push_deliveries WHERE state = 'sending' AND +alert_id = ?)
    OR EXISTS (SELECT 1 FROM push_windows WHERE alert_id = ? AND state IN ('pending', 'sending'))
    OR EXISTS (SELECT 1 FROM deliveries WHERE alert_id = ? AND state IN ('pending', 'sending'))

-- name: AddAlertCounts
UPDATE alerts SET delivered = delivered + ?, failed = failed + ?, expired = expired + ?,
    email_sent = email_sent + ?, email_failed = email_failed + ?
WHERE id = ?

-- name: AlertCounts
SELECT delivered, failed, expired, email_sent, email_failed FROM alerts WHERE id = ?
