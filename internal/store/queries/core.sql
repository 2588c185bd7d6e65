-- name: GetSetting
SELECT value FROM settings WHERE key = ?

-- name: InsertSettingIfAbsent
INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING

-- name: InsertTopic
INSERT INTO topics (slug, name, created_at) VALUES (?, ?, ?)

-- name: ForgetFeedValidators
-- A new topic: the next poll of every feed fetches it whole (no 304), so
-- that known articles of the topic's category join it.
UPDATE feeds SET etag = '', last_modified = '' WHERE etag <> '' OR last_modified <> ''

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

-- name: InsertUser
-- Logins are lower-cased, as the login form lower-cases what is typed.
INSERT INTO users (email, role, password_hash, created_at) VALUES (lower(?), ?, ?, ?)

-- name: UserByEmail
-- Whatever the case, including logins created before they were lower-cased.
SELECT id, email, role, password_hash, created_at, disabled_at FROM users WHERE lower(email) = lower(?)
ORDER BY id LIMIT 1

-- name: UserByID
SELECT id, email, role, password_hash, created_at, disabled_at FROM users WHERE id = ?

-- name: ListUsers
SELECT id, email, role, password_hash, created_at, disabled_at FROM users ORDER BY email

-- name: SetUserPassword
UPDATE users SET password_hash = ? WHERE id = ?

-- name: SetUserRole
UPDATE users SET role = ? WHERE id = ?

-- name: DisableUser
UPDATE users SET disabled_at = ? WHERE id = ?

-- name: InsertSession
INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)

-- name: SessionByHash
SELECT s.user_id, s.csrf, s.expires_at, u.email, u.role, u.disabled_at
FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?

-- name: DeleteSession
DELETE FROM sessions WHERE hash = ?

-- name: DeleteUserSessions
DELETE FROM sessions WHERE user_id = ?

-- name: DeleteExpiredSessions
DELETE FROM sessions WHERE expires_at < ?
