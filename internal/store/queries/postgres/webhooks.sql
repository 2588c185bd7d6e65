-- name: ClaimWebhookDeliveries
-- As the SQLite query, and SKIP LOCKED: instances sharing the database
-- claim different rows. A row another instance is claiming still reads as
-- pending here, so the subject's later rows stay behind it.
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
    FOR UPDATE OF d SKIP LOCKED
)
RETURNING id, endpoint_id, event_id, attempts, claims
