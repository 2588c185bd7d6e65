package subscribe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
	"github.com/crieur/crieur/internal/subscribe"
)

type fixture struct {
	st  *store.Store
	svc *subscribe.Service
	now time.Time
}

func setup(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	for _, tp := range [][2]string{{"politique", "Politique"}, {"afrique", "Afrique"}, {"economie", "Économie"}} {
		if _, err := st.CreateTopic(ctx, tp[0], tp[1]); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{st: st, now: time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)}
	tok := newTokens(t, func() time.Time { return f.now })
	f.svc = subscribe.New(subscribe.Config{Store: st, Tokens: tok, HashKey: []byte("hash-key-hash-key-hash-key-12345"),
		BaseURL: "https://news.example", Now: func() time.Time { return f.now }})
	return f
}

func TestSubscribeAnswersTheSameAndLimits(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	req := subscribe.Request{Email: "Lecteur@Example.COM", Topics: []string{"politique"}, Client: "192.0.2.1"}
	for i := 0; i < 3; i++ {
		if err := f.svc.Subscribe(ctx, req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	err := f.svc.Subscribe(ctx, req)
	e, ok := news.AsError(err)
	if !ok || e.Code != news.CodeRateLimited || e.RetryAfter <= 0 {
		t.Fatalf("fourth request for one address: %v", err)
	}
	sub, err := f.st.SubscriberByEmail(ctx, "Lecteur@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != news.Pending || sub.Frequency != news.Daily || sub.Lang != news.French {
		t.Fatalf("subscriber = %+v", sub)
	}
}

func TestSubscribeRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := []struct {
		req  subscribe.Request
		code news.Code
	}{
		{subscribe.Request{Email: "not-an-address"}, news.CodeInvalidEmail},
		{subscribe.Request{Email: "a@b.example\r\nBcc: x@y.example"}, news.CodeInvalidEmail},
		{subscribe.Request{Email: "a@b.example", Topics: []string{"sport"}}, news.CodeUnknownTopic},
		{subscribe.Request{Email: "a@b.example", Frequency: "hourly"}, news.CodeInvalid},
		{subscribe.Request{Email: "a@b.example", Lang: "de"}, news.CodeInvalid},
	}
	for _, c := range cases {
		err := f.svc.Subscribe(context.Background(), c.req)
		if e, ok := news.AsError(err); !ok || e.Code != c.code {
			t.Errorf("%+v: err = %v, want %s", c.req, err, c.code)
		}
	}
}

func TestConfirmUnsubscribeErase(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if err := f.svc.Subscribe(ctx, subscribe.Request{Email: "r@example.com", Topics: []string{"afrique"}, Lang: news.English}); err != nil {
		t.Fatal(err)
	}
	sub, _ := f.st.SubscriberByEmail(ctx, "r@example.com")
	links := f.svc.LinksFor(sub)
	conf := links.Confirm[strings.LastIndex(links.Confirm, "/")+1:]
	unsub := links.Unsubscribe[strings.LastIndex(links.Unsubscribe, "/")+1:]
	if _, err := f.svc.Confirm(ctx, unsub); err == nil {
		t.Fatal("an unsubscribe token confirmed")
	}
	got, err := f.svc.Confirm(ctx, conf)
	if err != nil || got.Status != news.Confirmed {
		t.Fatalf("confirm: %+v %v", got, err)
	}
	if err := f.svc.Unsubscribe(ctx, sub.ID, "test"); err != nil {
		t.Fatal(err)
	}
	// An old confirmation link must not undo the unsubscribe.
	if _, err := f.svc.Confirm(ctx, conf); err == nil {
		t.Fatal("old confirmation link resubscribed")
	}
	if err := f.svc.Erase(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.SubscriberByEmail(ctx, "r@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after erase: %v", err)
	}
	if ok, _ := f.st.Suppressed(ctx, f.svc.Hash("R@example.com")); !ok {
		t.Fatal("erased address not suppressed")
	}
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if err := f.st.Suppress(ctx, f.svc.Hash("gone@example.com"), "erased", f.now); err != nil {
		t.Fatal(err)
	}
	csv := "email,topics,frequency,lang,status\n" +
		"a@example.com,politique;afrique,daily,fr,confirmed\n" +
		"b@example.com,economie,weekly,en,pending\n" +
		"not-an-email,politique,daily,fr,confirmed\n" +
		"c@example.com,sport,daily,fr,confirmed\n" +
		"gone@example.com,politique,daily,fr,confirmed\n" +
		"a@example.com,politique,daily,fr,confirmed\n" +
		"d@example.com,,monthly,fr,confirmed\n" +
		"\"e@example.com,politique\n"
	rep, err := f.svc.Import(ctx, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 2 || rep.Pending != 1 || rep.Suppressed != 1 {
		t.Fatalf("report = %+v", rep)
	}
	lines := map[int]bool{}
	for _, r := range rep.Rejected {
		lines[r.Line] = true
	}
	for _, l := range []int{4, 5, 7, 8, 9} {
		if !lines[l] {
			t.Errorf("line %d not rejected: %+v", l, rep.Rejected)
		}
	}
	a, err := f.st.SubscriberByEmail(ctx, "a@example.com")
	if err != nil || a.Status != news.Confirmed || len(a.Topics) != 2 {
		t.Fatalf("a = %+v, %v", a, err)
	}
	var out bytes.Buffer
	if err := f.svc.ExportCSV(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "a@example.com,afrique;politique,daily,fr,confirmed") {
		t.Fatalf("export:\n%s", out.String())
	}
}

func BenchmarkImport(b *testing.B) {
	f := setup(b)
	var sb strings.Builder
	sb.WriteString("email,topics,frequency,lang,status\n")
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(&sb, "reader%d@example.com,politique;afrique,daily,fr,confirmed\n", i)
	}
	csv := sb.String()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f = setup(b)
		b.StartTimer()
		rep, err := f.svc.Import(context.Background(), strings.NewReader(csv))
		if err != nil || rep.Imported != 100_000 {
			b.Fatalf("%+v %v", rep, err)
		}
	}
}

func FuzzImportCSV(f *testing.F) {
	fx := setup(f)
	f.Add("email,topics,frequency,lang,status\na@example.com,politique,daily,fr,confirmed\n")
	f.Add("email\n\"unterminated\n")
	f.Add("\ufeffEMAIL,Topics\nb@example.com,afrique;economie\n")
	f.Fuzz(func(t *testing.T, in string) {
		rep, err := fx.svc.Import(context.Background(), strings.NewReader(in))
		if err != nil {
			if _, ok := news.AsError(err); !ok {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if rep.Imported < 0 || rep.Imported > strings.Count(in, "\n")+1 {
			t.Fatalf("imported %d from %d lines", rep.Imported, strings.Count(in, "\n"))
		}
	})
}
