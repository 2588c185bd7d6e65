-- name: InsertRun
INSERT INTO digest_runs (frequency, scheduled_at, state, max_article_id, created_by, created_at)
VALUES (?, ?, 'running', ?, ?, ?)
ON CONFLICT DO NOTHING

-- name: OpenRunOf
-- The unfinished run of a frequency (at most one: migration 0007; zoned
-- runs aside, 0016).
SELECT id FROM digest_runs WHERE frequency = ? AND finished_at IS NULL AND zoned = 0

-- name: RunByKey
SELECT id FROM digest_runs WHERE frequency = ? AND scheduled_at = ?

-- name: GetRun
SELECT id, frequency, scheduled_at, state, max_article_id, enqueue_after, enqueued, recipients, skipped_empty, error, created_at, finished_at, zoned
FROM digest_runs WHERE id = ?

-- name: ListRuns
SELECT id, frequency, scheduled_at, state, max_article_id, enqueue_after, enqueued, recipients, skipped_empty, error, created_at, finished_at, zoned
FROM digest_runs ORDER BY id DESC LIMIT ?

-- name: RunsToEnqueue
SELECT id FROM digest_runs WHERE state IN ('running', 'failed') AND enqueued = 0 ORDER BY id

-- name: LastRunOf
SELECT MAX(scheduled_at) FROM digest_runs WHERE frequency = ?

-- name: EligibleBatch
SELECT s.id, s.digest_cursor, st.topic_id
FROM (
    SELECT id, digest_cursor FROM subscribers
    WHERE frequency = ? AND status = 'confirmed' AND paused = 0 AND id > ?
    ORDER BY id LIMIT ?
) s LEFT JOIN subscriber_topics st ON st.subscriber_id = s.id
ORDER BY s.id

-- name: AdvanceRun
UPDATE digest_runs SET enqueue_after = ?, recipients = recipients + ?, skipped_empty = skipped_empty + ?
WHERE id = ? AND enqueue_after = ? AND enqueued = 0

-- name: FinishEnqueue
UPDATE digest_runs SET enqueued = 1 WHERE id = ? AND enqueued = 0

-- name: FinishRun
UPDATE digest_runs SET state = ?, finished_at = ? WHERE id = ? AND state = 'running'

-- name: FailRun
UPDATE digest_runs SET error = ?, state = 'failed' WHERE id = ?

-- name: ActiveRuns
SELECT id FROM digest_runs WHERE state IN ('running', 'failed') AND enqueued = 1 AND finished_at IS NULL

-- name: ReopenRunsWithPending
SELECT id FROM digest_runs WHERE state = 'failed' AND finished_at IS NULL

-- name: CloseRun
UPDATE digest_runs SET state = ?, finished_at = ? WHERE id = ? AND finished_at IS NULL

-- name: RunBusy
-- Whether a run still has messages to send; stops at the first one. Read
-- from the small pending and sending indexes (no index leads with run_id
-- for unfinished rows since migration 0020: a digest row would enter it
-- twice more).
SELECT EXISTS (SELECT 1 FROM deliveries WHERE state = 'pending' AND run_id = ?)
    OR EXISTS (SELECT 1 FROM deliveries WHERE state = 'sending' AND run_id = ?)

-- name: AddRunCounts
UPDATE digest_runs SET sent = sent + ?, failed = failed + ? WHERE id = ?

-- name: RunCounts
SELECT sent, failed FROM digest_runs WHERE id = ?

-- name: InsertZonedRun
-- A run of CRIEUR_DIGEST_LOCAL: one slot, several may be open (0016).
INSERT INTO digest_runs (frequency, scheduled_at, state, max_article_id, created_by, created_at, zoned)
VALUES (?, ?, 'running', ?, ?, ?, 1)
ON CONFLICT DO NOTHING

-- name: InsertRunZone
INSERT INTO digest_run_zones (run_id, timezone, local_key) VALUES (?, ?, ?) ON CONFLICT DO NOTHING

-- name: DigestZones
-- The zones the readers of a frequency live in ('' for CRIEUR_TIMEZONE).
SELECT DISTINCT timezone FROM subscribers WHERE frequency = ? AND status = 'confirmed' AND paused = 0

-- name: EligibleZonedBatch
-- The readers a zoned run takes: those of its zones whose ledger is below
-- the zone's firing, through subscribers_zone (0016).
SELECT s.id, s.digest_cursor, s.local_key, st.topic_id
FROM (
    SELECT sub.id, sub.digest_cursor, z.local_key FROM digest_run_zones z
    JOIN subscribers sub ON sub.frequency = ? AND sub.status = 'confirmed' AND sub.paused = 0
      AND sub.timezone = z.timezone AND sub.id > ?
    WHERE z.run_id = ? AND sub.digest_key < z.local_key
    ORDER BY sub.id LIMIT ?
) s LEFT JOIN subscriber_topics st ON st.subscriber_id = s.id
ORDER BY s.id

-- name: RunHasZone
SELECT COUNT(*) FROM digest_run_zones WHERE run_id = ? AND timezone = ?

-- name: AddRunRecipients
UPDATE digest_runs SET recipients = recipients + ?, skipped_empty = skipped_empty + ? WHERE id = ?
