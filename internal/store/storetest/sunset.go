package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// sunsetTests cover "still want this?" (CRIEUR_SUNSET_AFTER).
var sunsetTests = []test{
	{"SunsetAskOnceAndExpire", testSunset},
}

// testSunset: quiet readers confirmed long ago are asked once (one email
// queued) however often it runs; recent readers and readers who clicked
// are not; an answer or a click withdraws the ask; 30 days unanswered are
// returned for unsubscribing; a reader who came back is not held to an
// old ask.
func testSunset(t *testing.T, s *store.Store) {
	t0 := now().Add(-400 * 24 * time.Hour)
	reader := func(email string, confirmed time.Time) int64 {
		t.Helper()
		id, _, err := s.Subscribe(ctx, email, store.Prefs{Frequency: news.Daily, Lang: news.French}, confirmed)
		check(t, err)
		_, err = s.Confirm(ctx, id, "", confirmed)
		check(t, err)
		return id
	}
	quiet := reader("quiet@example.com", t0)
	clicker := reader("clicker@example.com", t0)
	recent := reader("recent@example.com", now())
	answers := reader("answers@example.com", t0)
	late := reader("late@example.com", t0)
	asked := now().Add(-31 * 24 * time.Hour)
	quietSince := asked.Add(-180 * 24 * time.Hour)
	// clicker read a story within the 180 days before the ask.
	check(t, s.AddClicks(ctx, store.ClickBatch{Readers: []store.ReaderClick{
		{ClickScope: store.ClickScope{RunID: 1}, SubscriberID: clicker, ArticleID: 1, At: quietSince.Add(24 * time.Hour)}}}))
	ids, err := s.AskSunset(ctx, quietSince, asked, 100)
	check(t, err)
	slices.Sort(ids)
	if !slices.Equal(ids, []int64{quiet, answers, late}) {
		t.Fatalf("asked %v, want %v", ids, []int64{quiet, answers, late})
	}
	// late clicks a story after the ask: that answers it; a scanner's
	// fetch would not.
	check(t, s.AddClicks(ctx, store.ClickBatch{Readers: []store.ReaderClick{
		{ClickScope: store.ClickScope{RunID: 2}, SubscriberID: quiet, ArticleID: 1, Scanner: true, At: now().Add(-10 * 24 * time.Hour)},
		{ClickScope: store.ClickScope{RunID: 2}, SubscriberID: late, ArticleID: 1, At: now().Add(-10 * 24 * time.Hour)}}}))
	if _, ok, err := s.SunsetAsked(ctx, late); err != nil || ok {
		t.Fatalf("a click did not answer the ask (%v)", err)
	}
	again, err := s.AskSunset(ctx, quietSince, asked, 100)
	check(t, err)
	if len(again) != 0 {
		t.Fatalf("asked again: %v", again)
	}
	for _, id := range []int64{quiet, answers} {
		h, err := s.History(ctx, id, 10)
		check(t, err)
		n := 0
		for _, d := range h {
			if d.Kind == news.MailSunset {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("reader %d has %d sunset emails, want 1", id, n)
		}
	}
	if _, ok, err := s.SunsetAsked(ctx, recent); err != nil || ok {
		t.Fatalf("a recent reader was asked (%v)", err)
	}
	check(t, s.AnswerSunset(ctx, answers, now().Add(-20*24*time.Hour)))
	// Answered 20 days ago: not asked again for a 180-day quiet period,
	// asked again once the answer is older than the period.
	if again, err := s.AskSunset(ctx, now().Add(-180*24*time.Hour), now(), 100); err != nil || slices.Contains(again, answers) {
		t.Fatalf("asked again soon after answering (%v)", err)
	}
	if again, _ := s.AskSunset(ctx, now().Add(-10*24*time.Hour), now(), 100); !slices.Contains(again, answers) {
		t.Fatalf("not asked again once quiet since the answer: %v", again)
	}
	check(t, s.AnswerSunset(ctx, answers, now()))
	// 31 days on: quiet never answered (a scanner's fetch is no answer).
	left, err := s.SunsetUnanswered(ctx, now().Add(-30*24*time.Hour), 100)
	check(t, err)
	if !slices.Equal(left, []int64{quiet}) {
		t.Fatalf("unanswered %v, want [%d]", left, quiet)
	}
	// A reader who comes back (confirmed anew) is not held to the old ask.
	check(t, s.Unsubscribe(ctx, quiet, "h-quiet", "sunset", now()))
	id, _, err := s.Subscribe(ctx, "quiet@example.com", store.Prefs{Frequency: news.Daily, Lang: news.French}, now())
	check(t, err)
	_, err = s.Confirm(ctx, id, "", now())
	check(t, err)
	if left, err := s.SunsetUnanswered(ctx, now().Add(time.Hour), 100); err != nil || slices.Contains(left, quiet) {
		t.Fatalf("a reader who came back is held to their old ask (%v)", err)
	}
}
