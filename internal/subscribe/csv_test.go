package subscribe_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
)

// Import topics are matched as feed categories are: by slug or by name,
// whatever the case and accents.
func TestImportTopicsByName(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	csv := "email,topics,frequency,lang,status\n" +
		"a@example.com,ECONOMIE,daily,fr,confirmed\n" +
		"b@example.com,Économie; politique ;AFRIQUE,daily,fr,confirmed\n" +
		"c@example.com,economie;Économie;ÉCONOMIE,daily,fr,confirmed\n" +
		"d@example.com,Politique étrangère,daily,fr,confirmed\n"
	rep, err := f.svc.Import(ctx, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 3 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 5 || !strings.Contains(rep.Rejected[0].Reason, "unknown topic") {
		t.Fatalf("report %+v, want 3 imported and line 5 an unknown topic", rep)
	}
	for email, want := range map[string][]string{
		"a@example.com": {"economie"},
		"b@example.com": {"afrique", "economie", "politique"},
		"c@example.com": {"economie"},
	} {
		sub, err := f.st.SubscriberByEmail(ctx, email)
		if err != nil || !slices.Equal(sub.Topics, want) {
			t.Errorf("%s: topics %v, %v; want %v", email, sub.Topics, err, want)
		}
	}
}

// exportCSV returns what ExportCSV writes.
func exportCSV(t *testing.T, svc *subscribe.Service) string {
	t.Helper()
	var b bytes.Buffer
	if err := svc.ExportCSV(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// queued counts the deliveries queued (pending) for an address.
func queued(t *testing.T, st *store.Store, email string) int {
	t.Helper()
	sub, err := st.SubscriberByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.History(context.Background(), sub.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range h {
		if e.State == news.DeliveryPending {
			n++
		}
	}
	return n
}

// An export imports back, unsubscribed readers included, into the same
// database and into a fresh one; an unsubscribed row never sends anything.
func TestImportExportRoundTrip(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	csv := "email,topics,frequency,lang,status\n" +
		"gone@example.com,politique,weekly,en,confirmed\n" +
		"stays@example.com,politique;afrique,daily,fr,confirmed\n" +
		"waits@example.com,economie,daily,fr,pending\n" +
		"-dash@example.com,,daily,fr,confirmed\n"
	if rep, err := f.svc.Import(ctx, strings.NewReader(csv)); err != nil || rep.Imported != 4 {
		t.Fatalf("%+v %v", rep, err)
	}
	gone, _ := f.st.SubscriberByEmail(ctx, "gone@example.com")
	if err := f.svc.Unsubscribe(ctx, gone.ID, "one-click"); err != nil {
		t.Fatal(err)
	}
	exp := exportCSV(t, f.svc)
	// The sixth column, the reader's zone, is empty: they follow CRIEUR_TIMEZONE.
	for _, line := range []string{"gone@example.com,politique,weekly,en,unsubscribed,", "'-dash@example.com,,daily,fr,confirmed,"} {
		if !strings.Contains(exp, line+"\n") {
			t.Fatalf("export lacks %q:\n%s", line, exp)
		}
	}

	// Into the same database: nothing changes, nothing is sent.
	rep, err := f.svc.Import(ctx, strings.NewReader(exp))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rejected) != 0 || rep.Unsubscribed != 1 || rep.Existing != 3 || rep.Imported != 0 {
		t.Fatalf("same database: %+v", rep)
	}
	if again := exportCSV(t, f.svc); again != exp {
		t.Errorf("export changed:\n%s\nwant:\n%s", again, exp)
	}

	// Into a fresh database: the same export, except that the unsubscribed
	// reader is only a suppressed hash.
	g := setup(t)
	rep, err = g.svc.Import(ctx, strings.NewReader(exp))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rejected) != 0 || rep.Unsubscribed != 1 || rep.Imported != 3 || rep.Pending != 1 {
		t.Fatalf("fresh database: %+v", rep)
	}
	if _, err := g.st.SubscriberByEmail(ctx, "gone@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unsubscribed row created a subscriber: %v", err)
	}
	if ok, _ := g.st.Suppressed(ctx, g.svc.Hash("gone@example.com")); !ok {
		t.Error("unsubscribed address not suppressed")
	}
	var want []string
	for _, l := range strings.SplitAfter(exp, "\n") {
		if !strings.HasPrefix(l, "gone@") {
			want = append(want, l)
		}
	}
	if got := exportCSV(t, g.svc); got != strings.Join(want, "") {
		t.Errorf("fresh export:\n%s\nwant:\n%s", got, strings.Join(want, ""))
	}
	// It stays suppressed: a later import of the address as confirmed
	// does not bring it back.
	rep, err = g.svc.Import(ctx, strings.NewReader("email,topics,frequency,lang,status\ngone@example.com,,daily,fr,confirmed\n"))
	if err != nil || rep.Suppressed != 1 || rep.Imported != 0 {
		t.Errorf("re-import of the unsubscribed address: %+v %v", rep, err)
	}
}

// An unsubscribed row marks an existing subscriber unsubscribed, suppresses
// the address and cancels what was queued for it.
func TestImportUnsubscribesExisting(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	csv := "email,topics,frequency,lang,status\n" +
		"reader@example.com,politique,daily,fr,confirmed\n" +
		"waits@example.com,politique,daily,fr,pending\n"
	if rep, err := f.svc.Import(ctx, strings.NewReader(csv)); err != nil || rep.Imported != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	if n := queued(t, f.st, "waits@example.com"); n != 1 {
		t.Fatalf("%d confirmation emails queued, want 1", n)
	}
	csv = "email,topics,frequency,lang,status\n" +
		"READER@example.com,politique,daily,fr,unsubscribed\n" +
		"waits@example.com,,,,UNSUBSCRIBED\n" +
		"new@example.com,,,,unsubscribed\n" +
		"odd@example.com,,,,vanished\n" +
		"gone@example.com,,,,bounced\n"
	rep, err := f.svc.Import(ctx, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unsubscribed != 4 || rep.Imported != 0 || rep.Pending != 0 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 5 {
		t.Fatalf("report %+v, want 4 unsubscribed (one bounced) and line 5 rejected", rep)
	}
	// A bounced row (as an export writes it) suppresses for good: the
	// address cannot subscribe again.
	if hard, _ := f.st.HardSuppressed(ctx, f.svc.Hash("gone@example.com")); !hard {
		t.Error("an imported bounced address is not hard-suppressed")
	}
	for _, e := range []string{"reader@example.com", "waits@example.com"} {
		sub, err := f.st.SubscriberByEmail(ctx, e)
		if err != nil || sub.Status != news.Unsubscribed {
			t.Errorf("%s: %+v %v, want unsubscribed", e, sub, err)
		}
		if n := queued(t, f.st, e); n != 0 {
			t.Errorf("%s: %d emails still queued", e, n)
		}
	}
	for _, e := range []string{"reader@example.com", "waits@example.com", "new@example.com"} {
		if ok, _ := f.st.Suppressed(ctx, f.svc.Hash(e)); !ok {
			t.Errorf("%s not suppressed", e)
		}
	}
	if _, err := f.st.SubscriberByEmail(ctx, "new@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("new@example.com: %v, want no subscriber", err)
	}
}

// TestImportTimezones: the optional timezone column is read (any place
// in the header), an unknown zone refuses its line by number, and an
// export writes each reader's zone so that it imports back.
func TestImportTimezones(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	csv := "timezone,email,topics,frequency,lang,status\n" +
		"America/Montreal,mtl@example.com,politique,daily,fr,confirmed\n" +
		"Asia/Kathmandu,ktm@example.com,politique,daily,en,confirmed\n" +
		",paris@example.com,politique,daily,fr,confirmed\n" +
		"Mars/Olympus,mars@example.com,politique,daily,fr,confirmed\n" +
		"../../etc/passwd,etc@example.com,politique,daily,fr,confirmed\n"
	rep, err := f.svc.Import(ctx, strings.NewReader(csv))
	if err != nil || rep.Imported != 3 || len(rep.Rejected) != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	if r := rep.Rejected[0]; r.Line != 5 || r.Code != "timezone" || !strings.Contains(r.Reason, "Mars/Olympus") {
		t.Errorf("rejected %+v", r)
	}
	for email, want := range map[string]string{"mtl@example.com": "America/Montreal", "ktm@example.com": "Asia/Kathmandu", "paris@example.com": ""} {
		sub, err := f.st.SubscriberByEmail(ctx, email)
		if err != nil || sub.Timezone != want {
			t.Errorf("%s: zone %q, want %q (%v)", email, sub.Timezone, want, err)
		}
	}
	exp := exportCSV(t, f.svc)
	if !strings.HasPrefix(exp, "email,topics,frequency,lang,status,timezone\n") || !strings.Contains(exp, "mtl@example.com,politique,daily,fr,confirmed,America/Montreal\n") {
		t.Fatalf("export:\n%s", exp)
	}
	g := setup(t)
	if rep, err := g.svc.Import(ctx, strings.NewReader(exp)); err != nil || rep.Imported != 3 {
		t.Fatalf("into a fresh database: %+v %v", rep, err)
	}
	if sub, err := g.st.SubscriberByEmail(ctx, "ktm@example.com"); err != nil || sub.Timezone != "Asia/Kathmandu" {
		t.Fatalf("round trip: %q %v", sub.Timezone, err)
	}
}
