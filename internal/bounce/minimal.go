package bounce

import (
	"context"
	"log/slog"
)

// Unsubscriber is the one thing the minimal recorder needs of the
// subscribe service.
type Unsubscriber interface {
	Unsubscribe(ctx context.Context, id int64, reason string) error
}

// Minimal is the first Recorder: a hard bounce or a complaint whose reader
// is known unsubscribes and suppresses them; everything else is logged and
// left alone. It is the seam the full recorder (soft-bounce counting,
// bounce history, parked reports) replaces.
type Minimal struct {
	Subscribers Unsubscriber
	Log         *slog.Logger
}

func (m *Minimal) Record(ctx context.Context, r Report) (Outcome, error) {
	if r.SubscriberID == 0 {
		return Unmatched, nil
	}
	switch r.Kind {
	case Hard:
		return Applied, m.Subscribers.Unsubscribe(ctx, r.SubscriberID, "bounce")
	case Complaint:
		return Applied, m.Subscribers.Unsubscribe(ctx, r.SubscriberID, "complaint")
	}
	return Ignored, nil
}

func (m *Minimal) Park(_ context.Context, source, reason string, raw []byte) error {
	m.Log.Warn("bounce report parked", "source", source, "reason", reason, "bytes", len(raw))
	return nil
}
