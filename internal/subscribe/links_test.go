package subscribe_test

import (
	"bytes"
	"context"
	"errors"
	"path"
	"testing"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
)

// TestRevokedLinks checks what each purpose does with a link of an older
// generation: links in emails sent before generations (v1 tokens) work
// until the first revocation; then preference and confirmation links are
// refused as revoked while unsubscribe links still find the reader; an
// erased reader's preference link is revoked too.
func TestRevokedLinks(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if err := f.svc.Subscribe(ctx, subscribe.Request{Email: "a@example.org", Client: "x"}); err != nil {
		t.Fatal(err)
	}
	sub, err := f.st.SubscriberByEmail(ctx, "a@example.org")
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte("k"), 32) // newTokens' key
	oldPrefs, oldUnsub := signV1(key, subscribe.PurposePreferences, sub.ID), signV1(key, subscribe.PurposeUnsubscribe, sub.ID)
	links := f.svc.LinksFor(sub)
	for _, c := range []struct {
		tok string
		p   subscribe.Purpose
	}{{oldPrefs, subscribe.PurposePreferences}, {path.Base(links.Preferences), subscribe.PurposePreferences}, {path.Base(links.Confirm), subscribe.PurposeConfirm}} {
		if _, err := f.svc.Lookup(ctx, c.tok, c.p); err != nil {
			t.Fatalf("%v link before any revocation: %v", c.p, err)
		}
	}

	if _, err := f.svc.RevokeLinks(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	revoked := func(tok string, p subscribe.Purpose) {
		t.Helper()
		if _, err := f.svc.Lookup(ctx, tok, p); !isCode(err, news.CodeRevokedToken) {
			t.Errorf("revoked %v link: %v, want %s", p, err, news.CodeRevokedToken)
		}
	}
	revoked(oldPrefs, subscribe.PurposePreferences)
	revoked(path.Base(links.Preferences), subscribe.PurposePreferences)
	revoked(path.Base(links.Confirm), subscribe.PurposeConfirm)
	for _, tok := range []string{oldUnsub, path.Base(links.Unsubscribe)} {
		if got, err := f.svc.Lookup(ctx, tok, subscribe.PurposeUnsubscribe); err != nil || got.ID != sub.ID {
			t.Errorf("revoked unsubscribe link: %+v, %v; want the reader", got, err)
		}
	}
	fresh, err := f.st.SubscriberByID(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Lookup(ctx, path.Base(f.svc.LinksFor(fresh).Preferences), subscribe.PurposePreferences); err != nil {
		t.Errorf("new preference link: %v", err)
	}

	if err := f.svc.Erase(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Lookup(ctx, path.Base(f.svc.LinksFor(fresh).Preferences), subscribe.PurposePreferences)
	if !isCode(err, news.CodeRevokedToken) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("erased reader's preference link: %v, want %s wrapping ErrNotFound", err, news.CodeRevokedToken)
	}
}

func isCode(err error, c news.Code) bool {
	e, ok := news.AsError(err)
	return ok && e.Code == c
}

// TestEmailLinksLimited: "email me my preferences link" queues a
// preference-link email, shares the per-address budget of confirmation
// emails, and then answers 429 without queuing.
func TestEmailLinksLimited(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if err := f.svc.Subscribe(ctx, subscribe.Request{Email: "b@example.org", Client: "x"}); err != nil {
		t.Fatal(err)
	}
	sub, err := f.st.SubscriberByEmail(ctx, "b@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Confirm(ctx, path.Base(f.svc.LinksFor(sub).Confirm)); err != nil {
		t.Fatal(err)
	}
	unsub := path.Base(f.svc.LinksFor(sub).Unsubscribe)
	var limited error
	for range 5 {
		if err := f.svc.EmailLinks(ctx, unsub, "192.0.2.7"); err != nil {
			limited = err
			break
		}
	}
	if !isCode(limited, news.CodeRateLimited) {
		t.Fatalf("five requests at once: %v, want rate_limited", limited)
	}
	h, err := f.st.History(ctx, sub.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range h {
		if e.Kind == news.MailLinks {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d preference-link emails queued, want 3 (3 per address at once; the subscription request spends its own budget)", n)
	}
}
