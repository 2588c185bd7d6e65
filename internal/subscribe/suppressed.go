package subscribe

import (
	"context"

	"github.com/crieur/crieur/internal/news"
)

// shownStatus is the status the contract shows for sub: a reader
// unsubscribed by a hard bounce or a complaint is "bounced" or
// "complained", read from the suppression list's reason (the subscriber
// row keeps "unsubscribed", which every query that selects readers to
// mail already excludes).
func (s *Service) shownStatus(ctx context.Context, sub news.Subscriber) (string, error) {
	if sub.Status != news.Unsubscribed {
		return string(sub.Status), nil
	}
	reason, err := s.st.SuppressionReason(ctx, s.Hash(sub.Email))
	if err != nil {
		return "", err
	}
	switch reason {
	case "bounce", "bounced":
		return "bounced", nil
	case "complaint", "complained":
		return "complained", nil
	}
	return string(sub.Status), nil
}
