package dispatch_test

import (
	"context"
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
	var woken atomic.Int32
	j := dispatch.NewJanitor(dispatch.JanitorConfig{Store: st, Log: slog.New(slog.DiscardHandler), Host: host,
		Owner: dispatch.OwnerName(host, os.Getpid()), Lease: time.Minute, Wake: []func(){func() { woken.Add(1) }}})
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
	j.Clean(ctx) // nothing expired: no error to log, nothing to check but that it runs
	j.Stop(ctx)
	j.Stop(ctx)
}
