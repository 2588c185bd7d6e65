package alert

import (
	"context"
	"errors"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// repeated returns the alert an earlier request with key k created, or
// store.ErrNotFound. Looking before validating answers a repeat with its
// first alert even when the request would no longer pass (a send time
// now past); the key written with the alert (store.CreateAlertOnce)
// settles simultaneous requests.
func (s *Service) repeated(ctx context.Context, k news.IdempotencyKey, now time.Time) (int64, error) {
	id, err := s.st.IdempotentAlert(ctx, k, now)
	if err == nil {
		s.log.Info("alert repeated, not sent again", "alert_id", id)
	}
	return id, onceError(err)
}

// onceError tells the caller that its key was used for another request.
func onceError(err error) error {
	if errors.Is(err, store.ErrIdempotencyConflict) {
		return &news.Error{Code: news.CodeIdempotencyConflict, Err: err,
			Message: "This Idempotency-Key was used for another request in the last 24 hours; use a new key for a new alert."}
	}
	return err
}
