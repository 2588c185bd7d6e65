// Package desk owns what editors and admins create for the newsroom:
// topics, API tokens and desk users. Each is validated, stored and
// audited here, once, whether it comes from the command line, the JSON
// API or the desk's pages, so the three cannot drift apart.
//
// It imports the store and the domain nouns, never web or cmd: its
// callers turn its errors (news.Error codes, wrapping store.ErrConflict
// for a name already taken) into what their users read.
package desk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// MinPasswordLen is the shortest password a user may choose.
const MinPasswordLen = 10

// Service creates topics, tokens and users. Build it with New; it is safe
// for concurrent use.
type Service struct {
	st  *store.Store
	log *slog.Logger
}

// New returns the service over st; a failed audit write is logged to log.
func New(st *store.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{st: st, log: log}
}

// audit records what actor did. The change itself has been made: a failed
// audit write is logged, not returned, so the caller reports the change.
func (s *Service) audit(ctx context.Context, actor, action, target, detail string) {
	if err := s.st.Audit(ctx, actor, action, target, detail); err != nil {
		s.log.Error("audit", "action", action, "err", err)
	}
}

// ValidateTopic checks a topic slug ([a-z0-9-], 1–64) and name (1–200
// characters on one line).
func ValidateTopic(slug, name string) error {
	if slug == "" || len(slug) > 64 {
		return news.FieldError(news.CodeInvalid, "slug", "slug must be 1 to 64 characters")
	}
	for _, c := range slug {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return news.FieldError(news.CodeInvalid, "slug", "slug may hold only a-z, 0-9 and -")
		}
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 || strings.ContainsAny(name, "\r\n\x00") {
		return news.FieldError(news.CodeInvalid, "name", "name must be 1 to 200 characters on one line")
	}
	return nil
}

// CreateTopic validates and stores a topic for actor (as the audit log
// names them: "cli", "token:NAME", "user:EMAIL"). A slug already taken is
// a news.CodeConflict error on the field slug, wrapping store.ErrConflict.
func (s *Service) CreateTopic(ctx context.Context, actor, slug, name string) (news.Topic, error) {
	if err := ValidateTopic(slug, name); err != nil {
		return news.Topic{}, err
	}
	t, err := s.st.CreateTopic(ctx, slug, name)
	if errors.Is(err, store.ErrConflict) {
		return news.Topic{}, &news.Error{Code: news.CodeConflict, Field: "slug", Message: "A topic with this slug exists.", Err: err}
	}
	if err != nil {
		return news.Topic{}, fmt.Errorf("create topic: %w", err)
	}
	s.audit(ctx, actor, "topic.create", slug, name)
	return t, nil
}

// NewAPIToken returns a new API token: a prefix that secret scanners can
// recognise and 256 random bits. Only its HashToken is stored.
func NewAPIToken() string { return "crieur_" + randomString(32) }

// HashToken is how API tokens are stored: their SHA-256, so a database
// leak reveals no usable token.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// CreateToken makes an API token named name (1–100 characters) with role
// for actor, stores its hash and returns the token, which is shown once
// and never again.
func (s *Service) CreateToken(ctx context.Context, actor, name string, role news.Role) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", news.FieldError(news.CodeInvalid, "name", "name must be 1 to 100 characters")
	}
	if !role.Valid() {
		return "", news.FieldError(news.CodeInvalid, "role", "role must be editor or admin")
	}
	tok := NewAPIToken()
	if _, err := s.st.CreateAPIToken(ctx, name, role, HashToken(tok)); err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	s.audit(ctx, actor, "token.create", name, string(role))
	return tok, nil
}

// GeneratePassword returns a random password of 144 bits, written in 24
// URL-safe characters.
func GeneratePassword() string { return randomString(18) }

// CreateUser adds a desk login for email with role, for actor. An empty
// password is generated (and returned, to be shown once); a chosen one has
// at least MinPasswordLen characters. An address already taken is a
// news.CodeConflict error on the field email, wrapping store.ErrConflict,
// with addr the address as it was written down.
func (s *Service) CreateUser(ctx context.Context, actor, email string, role news.Role, password string) (addr, generated string, err error) {
	addr, err = mail.ValidateAddress(email)
	if err != nil {
		return "", "", news.FieldError(news.CodeInvalidEmail, "email", "%v", err)
	}
	if !role.Valid() {
		return "", "", news.FieldError(news.CodeInvalid, "role", "role must be editor or admin")
	}
	if password == "" {
		password = GeneratePassword()
		generated = password
	} else if len(password) < MinPasswordLen {
		return "", "", news.FieldError(news.CodeInvalid, "password", "password must be at least %d characters", MinPasswordLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", "", fmt.Errorf("hash password: %w", err)
	}
	if _, err := s.st.CreateUser(ctx, addr, role, string(hash)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return addr, "", &news.Error{Code: news.CodeConflict, Field: "email", Message: "A user with this address exists.", Err: err}
		}
		return "", "", fmt.Errorf("create user: %w", err)
	}
	s.audit(ctx, actor, "user.create", addr, string(role))
	return addr, generated, nil
}

// randomString is n random bytes in URL-safe base64.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
