-- name: ArticleByGUID
SELECT id FROM articles WHERE guid = ?

-- name: ArticleByURL
SELECT id FROM articles WHERE url = ? ORDER BY id LIMIT 1

-- name: InsertArticle
INSERT INTO articles (guid, url, title, summary, image_url, author, published_at, created_at, breaking, feed, posted_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id

-- name: CorrectArticle
UPDATE articles SET url = ?, title = ?, summary = ?, image_url = ?, author = ?, published_at = ?
WHERE id = ? AND (url <> ? OR title <> ? OR summary <> ? OR image_url <> ? OR author <> ? OR published_at <> ?)

-- name: ArticleTopicIDs
SELECT topic_id FROM article_topics WHERE article_id = ?

-- name: DeleteArticleTopics
DELETE FROM article_topics WHERE article_id = ?

-- name: InsertArticleTopic
INSERT INTO article_topics (article_id, topic_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: MaxArticleID
SELECT COALESCE(MAX(id), 0) FROM articles

-- name: ArticlesWindow
SELECT a.id, a.guid, a.url, a.title, a.summary, a.image_url, a.author, a.published_at, a.created_at, t.slug
FROM articles a LEFT JOIN article_topics at ON at.article_id = a.id LEFT JOIN topics t ON t.id = at.topic_id
WHERE a.id > ? AND a.id <= ? AND a.created_at >= ?
ORDER BY a.id

-- name: ArticleByID
SELECT a.id, a.guid, a.url, a.title, a.summary, a.image_url, a.author, a.published_at, a.created_at, t.slug
FROM articles a LEFT JOIN article_topics at ON at.article_id = a.id LEFT JOIN topics t ON t.id = at.topic_id
WHERE a.id = ?

-- name: RecentArticles
SELECT a.id, a.guid, a.url, a.title, a.summary, a.image_url, a.author, a.published_at, a.created_at, t.slug
FROM articles a LEFT JOIN article_topics at ON at.article_id = a.id LEFT JOIN topics t ON t.id = at.topic_id
WHERE a.created_at >= ?
ORDER BY a.id DESC

-- name: ArticleNowBreaking
-- A known article the CMS now flags breaking: the automatic-alert rules
-- look at it again. Whoever flagged it is who raises its alert.
UPDATE articles SET breaking = 1, auto_seen = 0, posted_by = ? WHERE id = ? AND breaking = 0

-- name: ArticlePoster
SELECT posted_by FROM articles WHERE id = ?
