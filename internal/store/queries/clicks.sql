-- Engagement: tracked links, push events and the desk's pictures.

-- name: AddClickCounts
INSERT INTO click_counts (run_id, alert_id, article_id, day, human, scanner) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, alert_id, article_id, day)
DO UPDATE SET human = click_counts.human + excluded.human, scanner = click_counts.scanner + excluded.scanner

-- name: InsertClickScope
INSERT INTO click_scopes (run_id, alert_id, salt, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (run_id, alert_id) DO NOTHING

-- name: ClickScopeSalt
SELECT salt FROM click_scopes WHERE run_id = ? AND alert_id = ?

-- name: AddClickers
UPDATE click_scopes SET clickers = clickers + ? WHERE run_id = ? AND alert_id = ?

-- name: BlankOldSalts
UPDATE click_scopes SET salt = '' WHERE created_at < ? AND salt <> ''

-- name: DeleteForgottenClickers
DELETE FROM click_clickers WHERE EXISTS (SELECT 1 FROM click_scopes s
    WHERE s.run_id = click_clickers.run_id AND s.alert_id = click_clickers.alert_id AND s.salt = '')

-- name: InsertReaderClick
INSERT INTO reader_clicks (subscriber_id, run_id, alert_id, article_id, scanner, at)
SELECT id, ?, ?, ?, ?, ? FROM subscribers WHERE id = ?

-- name: ReaderClicks
SELECT run_id, alert_id, article_id, scanner, at FROM reader_clicks WHERE subscriber_id = ? ORDER BY at DESC LIMIT ?

-- name: ClickTotals
SELECT COALESCE(SUM(human), 0), COALESCE(SUM(scanner), 0) FROM click_counts WHERE run_id = ? AND alert_id = ?

-- name: ClickScopeClickers
SELECT clickers FROM click_scopes WHERE run_id = ? AND alert_id = ?

-- name: RunArticleClicks
SELECT c.article_id, COALESCE(a.title, ''), SUM(c.human), SUM(c.scanner)
FROM click_counts c LEFT JOIN articles a ON a.id = c.article_id
WHERE c.run_id = ? AND c.alert_id = 0
GROUP BY c.article_id, a.title
ORDER BY SUM(c.human) DESC, c.article_id

-- name: ArticleEmailClicks
SELECT COALESCE(SUM(human), 0) FROM click_counts WHERE article_id = ?

-- name: ArticlePushClicks
SELECT COALESCE(SUM(clicked), 0) FROM alerts WHERE url = ?

-- name: TopClicked
SELECT c.article_id, a.title, SUM(c.human), SUM(c.scanner)
FROM click_counts c JOIN articles a ON a.id = c.article_id
WHERE c.day >= ? AND c.article_id <> 0
GROUP BY c.article_id, a.title
ORDER BY SUM(c.human) DESC, c.article_id
LIMIT ?

-- name: PushSentTo
-- An alert counts only the reports of browsers it was sent to: those its
-- enqueuing has passed (subscriptions are walked by id) and whose topics
-- it is for, as PushWindowSubs chose them. Index lookups only: every
-- browser of a large alert reports within minutes.
SELECT al.id FROM alerts al
WHERE al.id = ? AND al.enqueue_after >= ?
  AND (NOT EXISTS (SELECT 1 FROM alert_topics a WHERE a.alert_id = al.id)
       OR NOT EXISTS (SELECT 1 FROM push_subscription_topics x WHERE x.subscription_id = ?)
       OR EXISTS (SELECT 1 FROM push_subscription_topics pst JOIN alert_topics a2 ON a2.topic_id = pst.topic_id
                  WHERE a2.alert_id = al.id AND pst.subscription_id = ?))

-- name: InsertPushShown
INSERT INTO push_events (alert_id, subscription_id, shown_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING

-- name: MarkPushClicked
UPDATE push_events SET clicked_at = ? WHERE alert_id = ? AND subscription_id = ? AND clicked_at IS NULL

-- name: AddAlertShown
UPDATE alerts SET shown = shown + ?, clicked = clicked + ? WHERE id = ?

-- name: AddAlertMinute
INSERT INTO alert_minutes (alert_id, minute, shown, clicked) VALUES (?, ?, ?, ?)
ON CONFLICT (alert_id, minute)
DO UPDATE SET shown = alert_minutes.shown + excluded.shown, clicked = alert_minutes.clicked + excluded.clicked

-- name: AlertEngagement
SELECT shown, clicked FROM alerts WHERE id = ?

-- name: AlertMinutes
SELECT minute, delivered, shown, clicked FROM alert_minutes WHERE alert_id = ? AND minute >= ? AND minute < ? ORDER BY minute

-- name: ConfirmationsPerDay
SELECT confirmed_at / 86400000, COUNT(*) FROM subscribers WHERE confirmed_at >= ? GROUP BY confirmed_at / 86400000

-- name: SuppressionsPerDay
SELECT created_at / 86400000, reason, COUNT(*) FROM suppressions WHERE created_at >= ? GROUP BY created_at / 86400000, reason

-- name: PushBrowsersBefore
SELECT COUNT(*) FROM push_subscriptions WHERE created_at < ?

-- name: PushBrowsersPerDay
SELECT created_at / 86400000, COUNT(*) FROM push_subscriptions WHERE created_at >= ? GROUP BY created_at / 86400000
