package alert_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

func setup(t *testing.T) (*store.Store, *alert.Service) {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	if _, err := st.CreateTopic(ctx, "afrique", "Afrique"); err != nil {
		t.Fatal(err)
	}
	return st, alert.New(st, slog.New(slog.DiscardHandler), nil, func() {}, func() {})
}

func TestDefaultsAndUpdates(t *testing.T) {
	t.Parallel()
	st, svc := setup(t)
	ctx := context.Background()
	id, err := svc.Send(ctx, news.AlertRequest{Title: "Séisme", URL: "https://journal.example/a", Topics: []string{"afrique"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Alert(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if a.TTL != time.Hour || a.Urgency != "high" || len(a.TopicHeader) == 0 || len(a.TopicHeader) > 32 {
		t.Fatalf("defaults: TTL %v, urgency %q, topic %q", a.TTL, a.Urgency, a.TopicHeader)
	}
	zero := 0
	upd, err := svc.Send(ctx, news.AlertRequest{Title: "Séisme : bilan", URL: "https://journal.example/a", Replaces: id, TTLSeconds: &zero, Urgency: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := st.Alert(ctx, upd)
	if u.TopicHeader != a.TopicHeader || u.TTL != 0 || u.Urgency != "normal" {
		t.Fatalf("update: topic %q (want %q), TTL %v, urgency %q", u.TopicHeader, a.TopicHeader, u.TTL, u.Urgency)
	}
	other, _ := svc.Send(ctx, news.AlertRequest{Title: "Autre", URL: "https://journal.example/b"})
	if o, _ := st.Alert(ctx, other); o.TopicHeader == a.TopicHeader {
		t.Fatal("two unrelated alerts share a Topic header")
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	_, svc := setup(t)
	neg, big := -1, 30*24*3600
	cases := []struct {
		name string
		req  news.AlertRequest
		code news.Code
	}{
		{"no title", news.AlertRequest{URL: "https://a.example"}, news.CodeInvalid},
		{"title with a newline", news.AlertRequest{Title: "a\r\nb", URL: "https://a.example"}, news.CodeInvalid},
		{"javascript url", news.AlertRequest{Title: "x", URL: "javascript:alert(1)"}, news.CodeInvalid},
		{"unknown topic", news.AlertRequest{Title: "x", URL: "https://a.example", Topics: []string{"sport"}}, news.CodeUnknownTopic},
		{"negative ttl", news.AlertRequest{Title: "x", URL: "https://a.example", TTLSeconds: &neg}, news.CodeInvalid},
		{"ttl over four weeks", news.AlertRequest{Title: "x", URL: "https://a.example", TTLSeconds: &big}, news.CodeInvalid},
		{"bad urgency", news.AlertRequest{Title: "x", URL: "https://a.example", Urgency: "now"}, news.CodeInvalid},
		{"replaces nothing", news.AlertRequest{Title: "x", URL: "https://a.example", Replaces: 99}, news.CodeInvalid},
		{"url too long", news.AlertRequest{Title: "x", URL: "https://a.example/" + strings.Repeat("a", 3000)}, news.CodeInvalid},
	}
	for _, c := range cases {
		_, err := svc.Send(context.Background(), c.req)
		if e, ok := news.AsError(err); !ok || e.Code != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		} else if c.name == "url too long" && !strings.Contains(e.Message, "at most 2000 characters") {
			t.Errorf("%s: %q, want it to say the limit", c.name, e.Message)
		}
	}
}

func TestEmbargoWaitsThenEnqueues(t *testing.T) {
	t.Parallel()
	st, svc := setup(t)
	ctx := context.Background()
	if _, _, err := st.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.example/1", P256dh: "k", Auth: "a", Lang: news.French}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	id, err := svc.Send(ctx, news.AlertRequest{Title: "Sous embargo", URL: "https://a.example", SendAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.Alert(ctx, id); a.State != news.AlertScheduled || a.Targeted != 0 {
		t.Fatalf("before the embargo: state %s, targeted %d", a.State, a.Targeted)
	}
	now, _ := svc.Send(ctx, news.AlertRequest{Title: "Maintenant", URL: "https://a.example"})
	if err := svc.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.Alert(ctx, now); a.Targeted != 1 {
		t.Fatalf("immediate alert targeted %d, want 1", a.Targeted)
	}
}
