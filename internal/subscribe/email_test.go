package subscribe_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/subscribe"
)

func TestAddressCaseIsOneReader(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for i, e := range []string{"Lectrice@Example.COM", "lectrice@example.com"} {
		if err := f.svc.Subscribe(ctx, subscribe.Request{Email: e, Topics: []string{"afrique"}, Client: "192.0.2.1"}); err != nil {
			t.Fatalf("subscribe %d (%s): %v", i, e, err)
		}
	}
	var subs []news.Subscriber
	if err := f.st.EachSubscriber(ctx, func(s news.Subscriber) error { subs = append(subs, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].Email != "lectrice@example.com" {
		t.Fatalf("subscribers %+v, want one stored as lectrice@example.com", subs)
	}
	// The editors' API (GET/DELETE /api/v1/subscribers/{email}) looks up
	// through ByEmail.
	for _, e := range []string{"lectrice@example.com", "Lectrice@Example.COM", " LECTRICE@EXAMPLE.COM "} {
		sub, err := f.svc.ByEmail(ctx, e)
		if err != nil || sub.ID != subs[0].ID {
			t.Errorf("ByEmail(%q) = %d, %v; want %d", e, sub.ID, err, subs[0].ID)
		}
	}

	csv := "email,topics,frequency,lang,status\n" +
		"LECTRICE@example.com,politique,daily,fr,confirmed\n" +
		"Nouveau@Example.com,politique,daily,fr,confirmed\n" +
		"nouveau@example.COM,politique,daily,fr,confirmed\n"
	rep, err := f.svc.Import(ctx, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 1 || rep.Existing != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 4 {
		t.Fatalf("import report %+v, want 1 imported, 1 existing, line 4 a duplicate", rep)
	}
	sub, err := f.svc.ByEmail(ctx, "NOUVEAU@EXAMPLE.COM")
	if err != nil || sub.Email != "nouveau@example.com" {
		t.Fatalf("imported %+v, %v; want nouveau@example.com", sub, err)
	}
}

// An address suppressed in one case stays suppressed in every other, and
// so does one suppressed before addresses were lower-cased: the hash has
// always been of the lower-cased address.
func TestSuppressionIgnoresCase(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	h := f.svc.Hash("Case@Example.com")
	for _, e := range []string{"case@example.com", "CASE@EXAMPLE.COM", " Case@example.com"} {
		if got := f.svc.Hash(e); got != h {
			t.Errorf("Hash(%q) differs from Hash(%q)", e, "Case@Example.com")
		}
	}
	// A reader stored before this change, local part in capitals, erased:
	// only the hash of their address is left.
	if _, err := f.st.DB().ExecContext(ctx, `INSERT INTO subscribers (email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at)
		VALUES ('Case@example.com', 'confirmed', 'daily', 'fr', 0, 0, 1, 1, 1)`); err != nil {
		t.Fatal(err)
	}
	sub, err := f.svc.ByEmail(ctx, "case@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Erase(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"case@example.com", "CASE@example.com", "Case@Example.COM"} {
		rep, err := f.svc.Import(ctx, strings.NewReader("email\n"+e+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Suppressed != 1 || rep.Imported != 0 {
			t.Errorf("import %s after erasing Case@example.com: %+v, want suppressed", e, rep)
		}
	}
}
