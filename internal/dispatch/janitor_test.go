package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

// TestJanitor: Start takes back a dead process's claims at once; a live
// owner's claims come back only when their lease has run out, and the
// pipelines are woken then. Start and Stop are idempotent.
func TestJanitor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	dead, _ := pids(t)
	const host = "crieur"
	elsewhere := dispatch.OwnerName("web-2.example", dead) // live as far as this host knows
	claimed := time.Now().Add(-time.Hour)
	for i, o := range []string{dispatch.OwnerName(host, dead), elsewhere} {
		if _, _, err := st.Subscribe(ctx, fmt.Sprintf("r%d@x.test", i), store.Prefs{Frequency: news.Daily, Lang: news.French}, claimed); err != nil {
			t.Fatal(err)
		}
		if ds, err := st.ClaimDeliveries(ctx, o, claimed, 1); err != nil || len(ds) != 1 {
			t.Fatalf("claim for %s: %d, %v", o, len(ds), err)
		}
	}
	var woken, expired atomic.Int32
	j := dispatch.NewJanitor(dispatch.JanitorConfig{Store: st, Log: slog.New(slog.DiscardHandler), Host: host,
		Owner: dispatch.OwnerName(host, os.Getpid()), Lease: time.Minute, Wake: []func(){func() { woken.Add(1) }},
		ExpirePending: func(context.Context) error { expired.Add(1); return nil }})
	j.Stop(ctx) // before Start: nothing
	if err := j.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer j.Stop(ctx)
	owners, err := st.ClaimOwners(ctx)
	if err != nil || len(owners) != 1 || owners[0] != elsewhere {
		t.Fatalf("after Start, claims held by %q (%v); want only %q", owners, err, elsewhere)
	}
	// The other host's claim is an hour old: past its lease.
	j.RescueExpired(ctx)
	if owners, err := st.ClaimOwners(ctx); err != nil || len(owners) != 0 {
		t.Fatalf("after the lease, claims held by %q (%v)", owners, err)
	}
	if woken.Load() != 1 {
		t.Fatalf("pipelines woken %d times, want 1", woken.Load())
	}
	// Clean: unconfirmed addresses are handed to ExpirePending, a session
	// past its expiry is deleted, a live one kept.
	user, err := st.CreateUser(ctx, "desk@journal.example", news.RoleAdmin, "hash")
	if err != nil {
		t.Fatal(err)
	}
	for hash, expires := range map[string]time.Time{"old": claimed, "live": time.Now().Add(time.Hour)} {
		if err := st.CreateSession(ctx, hash, user, "csrf", expires); err != nil {
			t.Fatal(err)
		}
	}
	j.Clean(ctx)
	if expired.Load() == 0 {
		t.Error("Clean did not expire pending addresses")
	}
	// Asked as of before its expiry, the old session is found only if its
	// row is still there.
	if _, err := st.SessionByHash(ctx, "old", claimed.Add(-time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session after Clean: %v, want deleted", err)
	}
	if _, err := st.SessionByHash(ctx, "live", time.Now()); err != nil {
		t.Errorf("live session after Clean: %v", err)
	}
	j.Stop(ctx)
	j.Stop(ctx)
}
