package feed_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/feed"
)

// TestPollerRedactsURL checks the log lines and errors about a feed whose
// URL carries a password and a key, and redirects to a URL with another.
func TestPollerRedactsURL(t *testing.T) {
	t.Parallel()
	secrets := []string{"S3cretPW", "K3YK3Y", "R3D1R3CT", "feeduser"}
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop?sig=R3D1R3CT", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // connection refused
	withSecrets := func(base string) string {
		return strings.Replace(base, "http://", "http://feeduser:S3cretPW@", 1) + "/bad.xml?api_key=K3YK3Y"
	}
	for name, u := range map[string]string{"refused": withSecrets(down.URL), "redirect loop": withSecrets(redirect.URL)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := newFakeStore()
			logs := &syncBuffer{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			now := func() time.Time { return time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC) }
			p := feed.NewPoller(store, &feed.Fetcher{Client: redirect.Client(), Timeout: 5 * time.Second}, []string{u}, interval, log, now)
			err := p.RunOnce(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			st := store.state(u)
			for _, s := range []string{logs.String(), err.Error(), st.LastError} {
				for _, secret := range secrets {
					if strings.Contains(s, secret) {
						t.Errorf("%q shows %s", s, secret)
					}
				}
			}
			if !strings.Contains(logs.String(), "feed poll failed") || !strings.Contains(logs.String(), "bad.xml?api_key=xxxxx") {
				t.Errorf("the log should name the feed, redacted:\n%s", logs)
			}
		})
	}
}

func TestFetchRedactsBadURL(t *testing.T) {
	t.Parallel()
	_, err := (&feed.Fetcher{}).Fetch(context.Background(), "http://u:S3cretPW@ho st/x?api_key=K3YK3Y", feed.State{})
	if err == nil || strings.Contains(err.Error(), "S3cretPW") || strings.Contains(err.Error(), "K3YK3Y") {
		t.Fatalf("err = %v", err)
	}
}
