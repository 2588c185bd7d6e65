package alert_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	sport := store.AutoRule{ID: 1, Topic: "sport", Mode: alert.ModeSend, MinInterval: time.Hour, MaxAge: 2 * time.Hour}
	eco := store.AutoRule{ID: 2, Topic: "eco", Mode: alert.ModeDraft}
	feed := store.AutoRule{ID: 3, Feed: "https://f.test/rss", Mode: alert.ModeSend}
	off := store.AutoRule{ID: 4, Topic: "culture", Mode: alert.ModeOff}
	rules := []store.AutoRule{sport, eco, feed, off}
	art := func(age time.Duration, breaking bool, feed string, topics ...string) news.Article {
		return news.Article{PublishedAt: now.Add(-age), Breaking: breaking, Feed: feed, Topics: topics}
	}
	for _, c := range []struct {
		name     string
		a        news.Article
		mode     string
		throttle []int64
	}{
		{"no rule", art(0, false, "", "politique"), alert.ModeOff, nil},
		{"send topic", art(time.Minute, false, "", "sport"), alert.ModeSend, []int64{1}},
		{"too old for the topic", art(3*time.Hour, false, "", "sport"), alert.ModeOff, nil},
		{"draft wins", art(0, false, "", "sport", "eco"), alert.ModeDraft, []int64{1}},
		{"feed", art(0, false, "https://f.test/rss"), alert.ModeSend, nil},
		{"off topic", art(0, false, "", "culture"), alert.ModeOff, nil},
		{"breaking without rule", art(0, true, "", "politique"), alert.ModeSend, nil},
		{"breaking ignores the interval", art(0, true, "", "sport"), alert.ModeSend, nil},
		{"breaking in a draft topic", art(0, true, "", "eco"), alert.ModeDraft, nil},
	} {
		mode, th := alert.Decide(c.a, rules, now)
		var ids []int64
		for _, r := range th {
			ids = append(ids, r.ID)
		}
		if mode != c.mode || !slices.Equal(ids, c.throttle) {
			t.Errorf("%s: mode %s throttle %v, want %s %v", c.name, mode, ids, c.mode, c.throttle)
		}
	}
}

// TestReachable: 2xx is reachable; 404 (embargoed), 500 and a refused
// connection are not.
func TestReachable(t *testing.T) {
	var status atomic.Int32
	status.Store(404)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("User-Agent") != "crieur-test" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	check := alert.Reachable(srv.Client(), "crieur-test")
	ctx := context.Background()
	if err := check(ctx, srv.URL+"/a"); err == nil {
		t.Fatal("404 reachable")
	}
	status.Store(500)
	if err := check(ctx, srv.URL+"/a"); err == nil {
		t.Fatal("500 reachable")
	}
	status.Store(200)
	if err := check(ctx, srv.URL+"/a"); err != nil {
		t.Fatalf("200: %v", err)
	}
	srv.Close()
	if err := check(ctx, srv.URL+"/a"); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("closed server: %v", err)
	}
}
