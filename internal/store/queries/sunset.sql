-- Sunset (CRIEUR_SUNSET_AFTER): readers who stopped clicking are asked once
-- per quiet period. An ask older than the reader's (last) confirmation is
-- stale: they left and came back since. An answer older than the quiet
-- period no longer protects them.

-- name: SunsetCandidates
SELECT s.id, COALESCE(s.confirmed_at, s.created_at) FROM subscribers s
WHERE s.status = 'confirmed' AND s.paused = 0 AND COALESCE(s.confirmed_at, s.created_at) < ?
  AND NOT EXISTS (SELECT 1 FROM reader_clicks c WHERE c.subscriber_id = s.id AND c.scanner = 0 AND c.at >= ?)
  AND NOT EXISTS (SELECT 1 FROM sunset_asks a WHERE a.subscriber_id = s.id
      AND a.asked_at >= COALESCE(s.confirmed_at, s.created_at) AND (a.answered_at IS NULL OR a.answered_at >= ?))
ORDER BY s.id LIMIT ?

-- name: InsertSunsetAsk
INSERT INTO sunset_asks (subscriber_id, asked_at) VALUES (?, ?)
ON CONFLICT (subscriber_id) DO UPDATE SET asked_at = excluded.asked_at, answered_at = NULL
WHERE sunset_asks.asked_at < ? OR (sunset_asks.answered_at IS NOT NULL AND sunset_asks.answered_at < ?)

-- name: SunsetUnanswered
SELECT a.subscriber_id FROM sunset_asks a JOIN subscribers s ON s.id = a.subscriber_id
WHERE a.answered_at IS NULL AND a.asked_at < ? AND s.status = 'confirmed' AND a.asked_at >= COALESCE(s.confirmed_at, s.created_at)
  AND NOT EXISTS (SELECT 1 FROM reader_clicks c WHERE c.subscriber_id = a.subscriber_id AND c.scanner = 0 AND c.at >= a.asked_at)
ORDER BY a.subscriber_id LIMIT ?

-- name: AnswerSunsetAsk
UPDATE sunset_asks SET answered_at = ? WHERE subscriber_id = ? AND answered_at IS NULL

-- name: SunsetAsked
SELECT asked_at FROM sunset_asks WHERE subscriber_id = ? AND answered_at IS NULL
