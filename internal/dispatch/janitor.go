package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crieur/crieur/internal/startstop"
	"github.com/crieur/crieur/internal/store"
)

// JanitorConfig is what the Janitor needs.
type JanitorConfig struct {
	Store *store.Store
	Log   *slog.Logger
	// Owner names this process's workers (OwnerName), Host its machine.
	Owner, Host string
	// Lease is the pipelines' lease: a claim unrenewed for that long is
	// taken back. The janitor looks every quarter of it.
	Lease time.Duration
	// Wake is called after deliveries were returned to the queue (the
	// pipelines' Wake), so they are sent now rather than at the next poll.
	Wake []func()
	// ExpirePending, when set, forgets addresses never confirmed
	// (subscribe.Service.ExpirePending); called hourly.
	ExpirePending func(ctx context.Context) error
	// PushFailingFor and PushStaleAfter age push subscriptions out
	// (store.PrunePush), hourly; 0: never.
	PushFailingFor, PushStaleAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Janitor is the queue's rescuer and cleaner: at Start it returns to the
// queue what dead processes of this machine left claimed; then it takes
// back deliveries whose worker stopped renewing them (after their lease),
// and hourly deletes what has expired (unconfirmed addresses, sessions,
// alert idempotency keys, push subscriptions that aged out).
type Janitor struct {
	cfg  JanitorConfig
	life startstop.Base
}

// NewJanitor returns a Janitor; Start runs it.
func NewJanitor(cfg JanitorConfig) *Janitor {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Janitor{cfg: cfg}
}

// Start rescues the claims of dead processes of this machine (an error
// there means the database is unusable: the daemon does not start), then
// runs the janitor's loop until Stop.
func (j *Janitor) Start(ctx context.Context) error {
	if j.life.Running() {
		return nil
	}
	if err := j.RescueDeadOwners(ctx); err != nil {
		return err
	}
	ctx, ok := j.life.Begin(ctx)
	if !ok {
		return nil
	}
	j.life.Go(func() { j.loop(ctx) })
	return nil
}

// Stop ends the loop and waits for it.
func (j *Janitor) Stop(context.Context) { j.life.Stop() }

func (j *Janitor) loop(ctx context.Context) {
	t := time.NewTicker(max(j.cfg.Lease/4, time.Second))
	defer t.Stop()
	lastClean := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		j.RescueExpired(ctx)
		if now := j.cfg.Now(); now.Sub(lastClean) > time.Hour {
			lastClean = now
			j.Clean(ctx)
		}
	}
}

// RescueExpired returns to the queue the deliveries whose claim was not
// renewed within the lease: their worker died or lost the database.
func (j *Janitor) RescueExpired(ctx context.Context) {
	n, err := j.cfg.Store.RescueDeliveries(ctx, j.cfg.Now().Add(-j.cfg.Lease))
	if err != nil {
		if ctx.Err() == nil {
			j.cfg.Log.Error("rescue deliveries", "err", err)
		}
		return
	}
	if n > 0 {
		j.cfg.Log.Info("rescued deliveries from a dead worker", "count", n)
		for _, wake := range j.cfg.Wake {
			wake()
		}
	}
}

// Clean deletes what has expired; each failure is logged and the rest
// still done.
func (j *Janitor) Clean(ctx context.Context) {
	now := j.cfg.Now()
	if j.cfg.ExpirePending != nil {
		if err := j.cfg.ExpirePending(ctx); err != nil {
			j.cfg.Log.Error("expire pending", "err", err)
		}
	}
	if err := j.cfg.Store.DeleteExpiredSessions(ctx, now); err != nil {
		j.cfg.Log.Error("delete expired sessions", "err", err)
	}
	if _, err := j.cfg.Store.DeleteExpiredIdempotencyKeys(ctx, now); err != nil {
		j.cfg.Log.Error("delete expired idempotency keys", "err", err)
	}
	if j.cfg.PushFailingFor > 0 && j.cfg.PushStaleAfter > 0 {
		pruned, err := j.cfg.Store.PrunePush(ctx, now, j.cfg.PushFailingFor, j.cfg.PushStaleAfter)
		if err != nil {
			j.cfg.Log.Error("prune push subscriptions", "err", err)
		} else if len(pruned) > 0 {
			j.cfg.Log.Info("pruned dead push subscriptions", "failing", pruned[store.PruneFailing], "stale", pruned[store.PruneStale])
		}
	}
}

// RescueDeadOwners returns to the queue, now rather than after the lease,
// what processes of this machine that are no longer running left claimed:
// a daemon killed before this start, or a CLI `alert send` killed midway.
// A live process's claims are left alone: another `crieur serve` on the
// same database, or a CLI send running next to this one, keeps sending
// them (taking them back caused duplicates). Owners on other machines, or
// whose process cannot be checked, wait for the lease as before.
func (j *Janitor) RescueDeadOwners(ctx context.Context) error {
	owners, err := j.cfg.Store.ClaimOwners(ctx)
	if err != nil {
		return err
	}
	var total int64
	for _, o := range owners {
		if !OwnerGone(o, j.cfg.Host, j.cfg.Owner) {
			continue
		}
		n, err := j.cfg.Store.RescueOwner(ctx, o)
		if err != nil {
			return err
		}
		total += n
	}
	if total > 0 {
		j.cfg.Log.Info("returned interrupted deliveries to the queue", "count", total)
	}
	return nil
}

// OwnerName names this process's workers in the queue: pid-random@host.
// The random part tells apart two processes that got the same pid. The
// host comes last, after the first '@', so that no host name can be read
// as a pid: with host-pid-random, a process on host crieur read the owner
// crieur-7-1234-beef (a live instance on host crieur-7) as pid 7 of its
// own host, and took its claims back when it had no pid 7.
func OwnerName(host string, pid int) string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%d-%s@%s", pid, hex.EncodeToString(b), host)
}

// parseOwner splits an owner made by OwnerName; ok is false for anything
// else (an owner named by an older release, or by a benchmark).
func parseOwner(owner string) (host string, pid int, ok bool) {
	head, host, ok := strings.Cut(owner, "@")
	if !ok {
		return "", 0, false
	}
	pidText, random, ok := strings.Cut(head, "-")
	if !ok || random == "" || pidText == "" || strings.Trim(pidText, "0123456789") != "" {
		return "", 0, false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return host, pid, true
}

// OwnerGone reports that owner (as OwnerName makes them) was a process of
// this host that is no longer running; self is this process's own name.
// Anything else — another host, a malformed name, a process that exists —
// is not known to be gone. Two containers with the same host name and
// separate pid namespaces would each see the other's workers as gone: give
// containers distinct host names (the default).
func OwnerGone(owner, host, self string) bool {
	if owner == self {
		return false
	}
	ownerHost, pid, ok := parseOwner(owner)
	if !ok || ownerHost != host {
		return false
	}
	if pid == os.Getpid() {
		return true // an earlier process had this pid; this one did not claim it
	}
	// Signal 0 checks existence without signalling: ESRCH means no such
	// process; EPERM means it exists under another user.
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
