package dispatch

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/store"
)

// defaultRecipientBreaker is how many recipient refusals in a row, with no
// message accepted in between, the email pipeline believes. Real lists
// hold a few dead addresses scattered among live ones; twenty in a row
// means the server refuses everyone (our sender, relaying, a policy it
// words as "no such user") and suppressing on would wipe out the list.
const defaultRecipientBreaker = 20

// breaker counts consecutive recipient refusals on one pipeline.
type breaker struct {
	mu  sync.Mutex
	run int
}

// refused records one recipient refusal and returns how many came in a
// row; past the limit the breaker has tripped and it is not believed.
func (b *breaker) refused() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.run++
	return b.run
}

// accepted resets the count: the server takes mail, its refusals are
// about addresses again.
func (b *breaker) accepted() {
	b.mu.Lock()
	b.run = 0
	b.mu.Unlock()
}

// trip pauses sending as for a server refusal, suppresses nobody more and
// says why in the run; only a message accepted later closes the breaker.
// The refused message is retried with back-off rather than put back at the
// head of the queue: a stretch of genuinely dead addresses (an old domain
// in an imported list) would otherwise be claimed first after every pause
// and stall the whole run, while with back-off the live messages behind it
// go out, close the breaker, and the dead ones are judged again later (or
// fail after the usual attempts, still without suppressing anyone).
func (m *Mailer) trip(w int, d store.Delivery, se *mail.SendError, run int, now time.Time) store.Result {
	// Once per streak the error line and the run's failure: every message
	// claimed while the server still refuses would repeat them (a write
	// of the run's row per message).
	if run == m.cfg.RecipientBreaker+1 {
		m.cfg.Log.Error("mail server refuses every recipient; sending paused, nobody more suppressed",
			"consecutive_refusals", run, "code", se.Code, "enhanced", se.Enhanced, "stage", se.Stage)
		m.halt(w, d.RunID, "mail server refused "+strconv.Itoa(m.cfg.RecipientBreaker)+" recipients in a row: "+shortErr(se))
	} else {
		m.cfg.Log.Warn("mail server refuses every recipient; sending paused, nobody more suppressed",
			"consecutive_refusals", run, "code", se.Code, "enhanced", se.Enhanced, "stage", se.Stage)
		m.halt(w, 0, "")
	}
	return m.retryOrFail(d, now, shortErr(se))
}

// halt stops sending for a minute after the server refused us (or every
// recipient), dropping this worker's connection, and marks the message's
// run failed with the reason (runID 0: none to mark).
func (m *Mailer) halt(w int, runID int64, reason string) {
	m.dropSender(w)
	m.p.pause(time.Minute)
	if runID != 0 {
		if err := m.cfg.Store.FailRun(context.Background(), runID, reason); err != nil {
			m.cfg.Log.Error("record run failure", "run_id", runID, "err", err)
		}
	}
}
