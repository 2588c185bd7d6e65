package news

import "time"

// Role is what an API token or admin user may do.
type Role string

// The roles: an editor sends alerts and articles; an admin also manages
// users, tokens, topics, feeds and subscribers.
const (
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleEditor || r == RoleAdmin }

// Allows reports whether r covers the need role.
func (r Role) Allows(need Role) bool { return r == RoleAdmin || r == need }

// APIToken describes a stored API token (its secret is never stored).
type APIToken struct {
	ID         int64
	Name       string
	Role       Role
	CreatedAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// User is an admin-UI login.
type User struct {
	ID           int64
	Email        string
	Role         Role
	PasswordHash string
	CreatedAt    time.Time
	DisabledAt   time.Time
}

// Session is a logged-in admin-UI session.
type Session struct {
	UserID    int64
	Email     string
	Role      Role
	CSRF      string
	ExpiresAt time.Time
}
