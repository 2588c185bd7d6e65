package click_test

import (
	"testing"

	"github.com/crieur/crieur/internal/click"
)

// Readers not tracked get the same link for a run's story, and another
// run's or story's link differs; readers tracked each get their own.
func TestLinkSharedUnlessReadersTracked(t *testing.T) {
	shared := click.New(click.Config{Tokens: tokens(t), BaseURL: "https://crieur.example"})
	a, b := shared.Link(click.KindRun, 7, 3, 1), shared.Link(click.KindRun, 7, 3, 2)
	if a != b {
		t.Errorf("two readers of one run got %q and %q, want the same link", a, b)
	}
	if c := shared.Link(click.KindRun, 8, 3, 1); c == a {
		t.Errorf("another run's link %q is the first run's", c)
	}
	if c := shared.Link(click.KindRun, 7, 4, 1); c == a {
		t.Errorf("another story's link %q is the first story's", c)
	}
	tracked := click.New(click.Config{Tokens: tokens(t), BaseURL: "https://crieur.example", TrackReaders: true})
	if a, b := tracked.Link(click.KindRun, 7, 3, 1), tracked.Link(click.KindRun, 7, 3, 2); a == b {
		t.Errorf("tracked readers share the link %q", a)
	}
}

// BenchmarkLink is one story link of one reader's digest (readers not
// tracked), as the mail builder asks for it per message.
func BenchmarkLink(b *testing.B) {
	s := click.New(click.Config{Tokens: tokens(b), BaseURL: "https://crieur.example"})
	for i := 0; b.Loop(); i++ {
		s.Link(click.KindRun, 7, int64(i%4), int64(i))
	}
}
