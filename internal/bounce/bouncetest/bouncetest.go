// Package bouncetest is a stand-in for bounce.Recorder that keeps what
// the intake handed it, for the tests of the intake and of the ways in
// (the SMTP listener, the IMAP poller).
//
// Only tests import it; it imports bounce and nothing else of crieur.
package bouncetest

import (
	"context"
	"errors"
	"sync"

	"github.com/crieur/crieur/internal/bounce"
)

// Recorder is a bounce.Recorder in memory, safe for concurrent use.
type Recorder struct {
	// Outcome is what Record answers; empty: bounce.Applied.
	Outcome bounce.Outcome

	mu      sync.Mutex
	fail    bool
	reports []bounce.Report
	parked  []string
}

// Record keeps rep, or fails as a database that is away would, after
// SetFail(true).
func (r *Recorder) Record(_ context.Context, rep bounce.Report) (bounce.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return "", errors.New("database down")
	}
	r.reports = append(r.reports, rep)
	if r.Outcome != "" {
		return r.Outcome, nil
	}
	return bounce.Applied, nil
}

// Park keeps the reason a report was parked for.
func (r *Recorder) Park(_ context.Context, _, reason string, _ []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parked = append(r.parked, reason)
	return nil
}

// SetFail makes Record fail (true) or work again (false).
func (r *Recorder) SetFail(fail bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = fail
}

// Reports returns the reports recorded so far.
func (r *Recorder) Reports() []bounce.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bounce.Report(nil), r.reports...)
}

// Parked returns the reasons of the reports parked so far.
func (r *Recorder) Parked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.parked...)
}
