package subscribe

import (
	"context"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/startstop"
)

// SunsetGrace is how long a reader asked "still want this?" has to answer
// (the button in that email, or any click on a story) before they are
// unsubscribed.
const SunsetGrace = 30 * 24 * time.Hour

// Sunsetter keeps a list healthy (CRIEUR_SUNSET_AFTER, with readers
// tracked): a confirmed reader who has not clicked a story for After gets
// one "still want this?" email, and is unsubscribed if they do not answer
// within SunsetGrace. Readers confirmed less than After ago are left alone.
type Sunsetter struct {
	svc   *Service
	after time.Duration
	every time.Duration
	startstop.Base
}

// NewSunsetter returns a Sunsetter of svc's readers; it looks every hour
// (more often for a shorter After, as in tests).
func NewSunsetter(svc *Service, after time.Duration) *Sunsetter {
	return &Sunsetter{svc: svc, after: after, every: min(time.Hour, max(after/2, time.Second))}
}

// Start runs the hourly look.
func (s *Sunsetter) Start(ctx context.Context) error {
	ctx, ok := s.Begin(ctx)
	if !ok {
		return nil
	}
	s.Go(func() {
		t := time.NewTicker(s.every)
		defer t.Stop()
		for {
			if err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
				s.svc.log.Error("sunset", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

// Stop ends the loop.
func (s *Sunsetter) Stop(context.Context) { s.Base.Stop() }

// RunOnce asks the readers quiet for After, then unsubscribes those asked
// more than SunsetGrace ago who did not answer. Several instances may run
// it at once: a reader is asked once (the ask is a unique row).
func (s *Sunsetter) RunOnce(ctx context.Context) error {
	now := s.svc.now()
	const batch = 500
	asked := 0
	for {
		ids, err := s.svc.st.AskSunset(ctx, now.Add(-s.after), now, batch)
		if err != nil {
			return err
		}
		asked += len(ids)
		if len(ids) < batch {
			break
		}
	}
	if asked > 0 {
		s.svc.log.Info("sunset: asked quiet readers whether they still want the newsletter", "count", asked)
		s.svc.wake()
	}
	for {
		ids, err := s.svc.st.SunsetUnanswered(ctx, now.Add(-SunsetGrace), batch)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.svc.Unsubscribe(ctx, id, "sunset"); err != nil {
				return fmt.Errorf("sunset: %w", err)
			}
			if err := s.svc.st.AnswerSunset(ctx, id, now); err != nil {
				return err
			}
		}
		if len(ids) < batch {
			return nil
		}
	}
}

// KeepAfterSunset records that reader id answered "still want this?":
// they stay subscribed.
func (s *Service) KeepAfterSunset(ctx context.Context, id int64) error {
	return s.st.AnswerSunset(ctx, id, s.now())
}

// SunsetAsked reports whether reader id was asked and has not answered.
func (s *Service) SunsetAsked(ctx context.Context, id int64) (bool, error) {
	_, asked, err := s.st.SunsetAsked(ctx, id)
	return asked, err
}
