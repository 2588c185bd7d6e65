-- name: InsertWebhookEndpoint
INSERT INTO webhook_endpoints (url, events, secret, created_by, created_at) VALUES (?, ?, ?, ?, ?)
RETURNING id

-- name: ListWebhookEndpoints
SELECT id, url, events, secret, created_by, created_at, failing_since, disabled_at, disabled_reason
FROM webhook_endpoints ORDER BY id

-- name: GetWebhookEndpoint
SELECT id, url, events, secret, created_by, created_at, failing_since, disabled_at, disabled_reason
FROM webhook_endpoints WHERE id = ?

-- name: DeleteWebhookEndpoint
DELETE FROM webhook_endpoints WHERE id = ?

-- name: EnableWebhookEndpoint
UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = '', failing_since = NULL WHERE id = ?

-- name: WebhookEndpointsFor
-- The endpoints that want an event of this type, and are not disabled.
SELECT id FROM webhook_endpoints WHERE disabled_at IS NULL AND events LIKE ?

-- name: InsertWebhookEvent
INSERT INTO webhook_events (type, subject, body, created_at) VALUES (?, ?, ?, ?)
RETURNING id

-- name: InsertWebhookDelivery
INSERT INTO webhook_deliveries (endpoint_id, event_id, subject, state, next_attempt_at, created_at)
VALUES (?, ?, ?, 'pending', ?, ?)

-- name: ClaimWebhookDeliveries
-- Due deliveries of enabled endpoints whose subject has nothing older
-- still to go to the same endpoint: one subject's events arrive in order.
UPDATE webhook_deliveries SET state = 'sending', locked_at = ?, locked_by = ?, attempts = attempts + 1, claims = claims + 1
WHERE id IN (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.state = 'pending' AND d.next_attempt_at <= ?
      AND d.endpoint_id IN (SELECT e.id FROM webhook_endpoints e WHERE e.disabled_at IS NULL)
      AND (d.subject = '' OR NOT EXISTS (
          SELECT 1 FROM webhook_deliveries o
          WHERE o.endpoint_id = d.endpoint_id AND o.subject = d.subject AND o.id < d.id
            AND o.state IN ('pending', 'sending')))
    ORDER BY d.id
    LIMIT ?
)
RETURNING id, endpoint_id, event_id, attempts, claims

-- name: GetWebhookJob
SELECT e.url, e.secret, v.type, v.body, v.created_at
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events v ON v.id = d.event_id
WHERE d.id = ?

-- name: MarkWebhookSent
-- last_error stays: the log shows what failed before the success.
UPDATE webhook_deliveries SET state = 'sent', status = ?, latency_ms = ?, locked_at = NULL, finished_at = ?
WHERE id = ? AND claims = ? AND state = 'sending'

-- name: MarkWebhookRetry
UPDATE webhook_deliveries SET state = 'pending', status = ?, latency_ms = ?, last_error = ?, next_attempt_at = ?, locked_at = NULL, locked_by = NULL
WHERE id = ? AND claims = ? AND state = 'sending'

-- name: MarkWebhookFailed
UPDATE webhook_deliveries SET state = 'failed', status = ?, latency_ms = ?, last_error = ?, locked_at = NULL, finished_at = ?
WHERE id = ? AND claims = ? AND state = 'sending'

-- name: ReleaseWebhook
UPDATE webhook_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL, attempts = attempts - 1
WHERE id = ? AND claims = ? AND state = 'sending'

-- name: WebhookEndpointOK
UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?

-- name: WebhookEndpointFailing
UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ?
RETURNING failing_since

-- name: DisableWebhookEndpoint
UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL

-- name: RescueWebhooks
UPDATE webhook_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_at < ?

-- name: WebhookClaimOwners
SELECT DISTINCT locked_by FROM webhook_deliveries WHERE state = 'sending' AND locked_by IS NOT NULL

-- name: RescueWebhookOwner
UPDATE webhook_deliveries SET state = 'pending', locked_at = NULL, locked_by = NULL
WHERE state = 'sending' AND locked_by = ?

-- name: NextWebhookDue
-- As ClaimWebhookDeliveries finds them: a delivery waiting behind its
-- subject's earlier one is not due, whatever its time.
SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d
WHERE d.state = 'pending'
  AND d.endpoint_id IN (SELECT e.id FROM webhook_endpoints e WHERE e.disabled_at IS NULL)
  AND (d.subject = '' OR NOT EXISTS (
      SELECT 1 FROM webhook_deliveries o
      WHERE o.endpoint_id = d.endpoint_id AND o.subject = d.subject AND o.id < d.id
        AND o.state IN ('pending', 'sending')))

-- name: WebhookLog
SELECT d.id, d.event_id, v.type, d.state, d.attempts, d.status, d.latency_ms, d.last_error, d.created_at, d.finished_at, d.next_attempt_at
FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
WHERE d.endpoint_id = ? ORDER BY d.id DESC LIMIT ?

-- name: SubjectWebhookEvents
SELECT id, body FROM webhook_events WHERE subject = ?

-- name: SetWebhookEventBody
UPDATE webhook_events SET body = ? WHERE id = ?

-- name: DeleteOldWebhookDeliveries
DELETE FROM webhook_deliveries WHERE state IN ('sent', 'failed') AND finished_at < ?

-- name: DeleteOrphanWebhookEvents
DELETE FROM webhook_events WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)

-- name: GetWelcomeText
SELECT subject, body FROM welcome_texts WHERE topic_id = ? AND lang = ?

-- name: ListWelcomeTexts
SELECT topic_id, lang, subject, body FROM welcome_texts ORDER BY topic_id, lang

-- name: PutWelcomeText
INSERT INTO welcome_texts (topic_id, lang, subject, body, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (topic_id, lang) DO UPDATE SET subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at

-- name: WelcomeTopicTexts
-- The paragraphs a reader's topics add, in the order of the topics' slugs.
SELECT t.slug, w.body FROM welcome_texts w
JOIN subscriber_topics st ON st.topic_id = w.topic_id
JOIN topics t ON t.id = w.topic_id
WHERE st.subscriber_id = ? AND w.lang = ? AND w.body <> ''
ORDER BY t.slug

-- name: PutSetting
INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value
