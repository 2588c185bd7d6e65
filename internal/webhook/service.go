package webhook

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Service registers, lists, deletes and tests endpoints, for the API and
// the desk alike. Its methods return *news.Error for what the admin got
// wrong.
type Service struct {
	st     *store.Store
	policy netguard.Policy
	now    func() time.Time
	wake   func()
}

// NewService returns a Service. policy is the deliverer's: a URL it
// would refuse to dial is refused at registration. wake (may be nil)
// tells the deliverer a test event is queued.
func NewService(st *store.Store, policy netguard.Policy, wake func()) *Service {
	if wake == nil {
		wake = func() {}
	}
	return &Service{st: st, policy: policy, now: time.Now, wake: wake}
}

// maxURL bounds an endpoint's URL.
const maxURL = 2000

// CheckEndpoint validates what an admin registers, without resolving the
// host: an absolute http(s) URL without credentials or fragment (https
// only unless private addresses are allowed), and one or more known
// events, each once.
func CheckEndpoint(raw string, events []string, allowPrivate bool) (string, []news.EventType, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxURL || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" ||
		(u.Scheme != "https" && (u.Scheme != "http" || !allowPrivate)) || strings.ContainsAny(raw, " \t\r\n") {
		msg := "url must be an absolute https URL without credentials"
		if allowPrivate {
			msg = "url must be an absolute http(s) URL without credentials"
		}
		return "", nil, news.FieldError(news.CodeInvalid, "url", "%s", msg)
	}
	if len(events) == 0 {
		return "", nil, news.FieldError(news.CodeInvalid, "events", "events must name at least one event")
	}
	var out []news.EventType
	for _, e := range events {
		t := news.EventType(e)
		if !t.Valid() {
			return "", nil, news.FieldError(news.CodeInvalid, "events", "unknown event %q", truncate(e, 64))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return u.String(), out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Register checks and stores an endpoint and returns its id and its
// secret (shown once). A host that resolves to a refused address is
// refused now (endpoint_not_allowed), as it would be at every send.
func (s *Service) Register(ctx context.Context, by, rawURL string, events []string) (int64, string, error) {
	u, evs, err := CheckEndpoint(rawURL, events, s.policy.AllowPrivate)
	if err != nil {
		return 0, "", err
	}
	if err := s.policy.CheckURL(ctx, u); err != nil {
		if errors.Is(err, netguard.ErrUnresolved) {
			return 0, "", &news.Error{Code: news.CodeInvalid, Field: "url", Message: "url's host name does not resolve", Err: err}
		}
		return 0, "", &news.Error{Code: news.CodeEndpointNotAllowed, Field: "url",
			Message: "url reaches a private or reserved address (see CRIEUR_WEBHOOKS_ALLOW_PRIVATE)", Err: err}
	}
	secret, err := NewSecret()
	if err != nil {
		return 0, "", err
	}
	id, err := s.st.CreateWebhookEndpoint(ctx, u, evs, secret, by, s.now())
	if err != nil {
		return 0, "", err
	}
	return id, secret, nil
}

// List returns every endpoint (with its secret: callers show none).
func (s *Service) List(ctx context.Context) ([]store.WebhookEndpoint, error) {
	return s.st.WebhookEndpoints(ctx)
}

// Get returns one endpoint.
func (s *Service) Get(ctx context.Context, id int64) (store.WebhookEndpoint, error) {
	e, err := s.st.WebhookEndpoint(ctx, id)
	return e, notFound(err)
}

// Delete removes an endpoint and what was queued for it.
func (s *Service) Delete(ctx context.Context, id int64) error {
	return notFound(s.st.DeleteWebhookEndpoint(ctx, id))
}

// Enable turns a disabled endpoint back on.
func (s *Service) Enable(ctx context.Context, id int64) error {
	if err := s.st.EnableWebhookEndpoint(ctx, id); err != nil {
		return notFound(err)
	}
	s.wake()
	return nil
}

// Test queues a webhook.test event for one endpoint.
func (s *Service) Test(ctx context.Context, id int64) error {
	if _, err := s.st.EmitTestWebhook(ctx, id, s.now()); err != nil {
		return notFound(err)
	}
	s.wake()
	return nil
}

// Log lists an endpoint's latest deliveries.
func (s *Service) Log(ctx context.Context, id int64, limit int) ([]store.WebhookLogEntry, error) {
	return s.st.WebhookLog(ctx, id, limit)
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &news.Error{Code: news.CodeNotFound, Message: "No webhook endpoint with this id.", Err: err}
	}
	return err
}
