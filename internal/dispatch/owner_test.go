package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

// pids returns the pid of a process that has ended and of one that runs.
func pids(t *testing.T) (dead, alive int) {
	t.Helper()
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	return done.Process.Pid, os.Getppid()
}

// TestOwnerGone: only a process of this host that no longer runs has its
// claims taken back at start; a live one (another serve, a CLI send) keeps
// them, and so does any process of another host, whatever its name.
func TestOwnerGone(t *testing.T) {
	dead, alive := pids(t)
	const host = "crieur"
	self := dispatch.OwnerName(host, 77)
	for _, tc := range []struct {
		owner string
		gone  bool
	}{
		{dispatch.OwnerName(host, dead), true},
		{dispatch.OwnerName(host, alive), false},
		{dispatch.OwnerName(host, os.Getpid()), true}, // an earlier process with this pid
		{self, false},
		{dispatch.OwnerName("web-2.example", dead), false}, // another machine: wait for the lease
		// Host crieur-<dead> once read as pid <dead> of host crieur.
		{dispatch.OwnerName(host+"-"+strconv.Itoa(dead), alive), false},
		{dispatch.OwnerName(host+"-"+strconv.Itoa(dead), dead), false},
		{dispatch.OwnerName("a@"+host, dead), false},
		{dispatch.OwnerName("", dead), false},
		{fmt.Sprintf("%s-%d-beef", host, dead), false}, // an older release's name: wait for the lease
		{fmt.Sprintf("x%d-beef@%s", dead, host), false},
		{fmt.Sprintf("%d@%s", dead, host), false},
		{"garbage", false},
		{"", false},
	} {
		if got := dispatch.OwnerGone(tc.owner, host, self); got != tc.gone {
			t.Errorf("OwnerGone(%q) = %v, want %v", tc.owner, got, tc.gone)
		}
	}
}

// TestRescueDeadOwners: at the start of an instance on host crieur, the
// claims of a dead process of that host go back to the queue; those of a
// live process of that host, and of a live instance on host crieur-N (N
// the pid of no process here), are left to them.
func TestRescueDeadOwners(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	dead, alive := pids(t)
	const host = "crieur"
	owners := []string{
		dispatch.OwnerName(host, dead),                         // taken back
		dispatch.OwnerName(host, alive),                        // kept
		dispatch.OwnerName(host+"-"+strconv.Itoa(dead), alive), // kept: another machine
	}
	now := time.Now()
	for i, o := range owners {
		if _, _, err := st.Subscribe(ctx, fmt.Sprintf("r%d@x.test", i), store.Prefs{Frequency: news.Daily, Lang: news.French}, now); err != nil {
			t.Fatal(err)
		}
		if ds, err := st.ClaimDeliveries(ctx, o, now, 1); err != nil || len(ds) != 1 {
			t.Fatalf("claim for %s: %d, %v", o, len(ds), err)
		}
	}
	self := dispatch.OwnerName(host, os.Getpid())
	j := dispatch.NewJanitor(dispatch.JanitorConfig{Store: st, Host: host, Owner: self, Log: slog.New(slog.DiscardHandler)})
	if err := j.RescueDeadOwners(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := st.ClaimOwners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(left)
	want := slices.Sorted(slices.Values(owners[1:]))
	if !slices.Equal(left, want) {
		t.Fatalf("owners still holding claims %q, want %q", left, want)
	}
	if ds, err := st.ClaimDeliveries(ctx, self, now, 10); err != nil || len(ds) != 1 {
		t.Fatalf("claimed %d (%v) after the rescue, want the dead process's 1", len(ds), err)
	}
}
