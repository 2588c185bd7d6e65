package subscribe_test

import (
	"context"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
)

// TestSunsetter: a reader quiet for the sunset period is asked once, and
// unsubscribed 30 days later without an answer; one who answers stays; a
// reader confirmed recently is left alone.
func TestSunsetter(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	confirmed := func(email string) int64 {
		t.Helper()
		id, _, err := f.st.Subscribe(ctx, email, store.Prefs{Frequency: news.Daily, Lang: news.French}, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Confirm(ctx, id, "", f.now); err != nil {
			t.Fatal(err)
		}
		return id
	}
	quiet, keeper := confirmed("quiet@example.com"), confirmed("keeper@example.com")
	f.now = f.now.Add(181 * 24 * time.Hour)
	fresh := confirmed("fresh@example.com")
	sun := subscribe.NewSunsetter(f.svc, 180*24*time.Hour)
	for range 2 { // twice: still one ask
		if err := sun.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[int64]bool{quiet: true, keeper: true, fresh: false} {
		asked, err := f.svc.SunsetAsked(ctx, id)
		if err != nil || asked != want {
			t.Errorf("reader %d asked %v (%v), want %v", id, asked, err, want)
		}
	}
	h, err := f.st.History(ctx, quiet, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKind(h, news.MailSunset); n != 1 {
		t.Errorf("%d sunset emails queued for the quiet reader, want 1", n)
	}
	if err := f.svc.KeepAfterSunset(ctx, keeper); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(29 * 24 * time.Hour)
	if err := sun.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if sub, _ := f.st.SubscriberByID(ctx, quiet); sub.Status != news.Confirmed {
		t.Fatalf("unsubscribed before 30 days: %s", sub.Status)
	}
	f.now = f.now.Add(2 * 24 * time.Hour)
	if err := sun.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]news.Status{quiet: news.Unsubscribed, keeper: news.Confirmed, fresh: news.Confirmed} {
		if sub, _ := f.st.SubscriberByID(ctx, id); sub.Status != want {
			t.Errorf("reader %d is %s, want %s", id, sub.Status, want)
		}
	}
}

func countKind(h []store.HistoryEntry, k news.MailKind) int {
	n := 0
	for _, e := range h {
		if e.Kind == k {
			n++
		}
	}
	return n
}
