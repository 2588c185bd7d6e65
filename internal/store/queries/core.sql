-- name: GetSetting
SELECT value FROM settings WHERE key = ?

-- name: InsertSettingIfAbsent
INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING

-- name: InsertTopic
INSERT INTO topics (slug, name, created_at) VALUES (?, ?, ?)

-- name: ListTopics
SELECT id, slug, name FROM topics ORDER BY name, slug

-- name: InsertToken
INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)

-- name: LookupToken
SELECT id, name, role, revoked_at FROM api_tokens WHERE hash = ?

-- name: TouchToken
UPDATE api_tokens SET last_used_at = ? WHERE id = ?

-- name: RevokeToken
UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL

-- name: ListTokens
SELECT id, name, role, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY id DESC

-- name: InsertAudit
INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)

-- name: ListAudit
SELECT id, at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?
