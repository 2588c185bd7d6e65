package subscribe

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Bounce is one bounce or complaint the API shows for a reader.
type Bounce struct {
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"` // "hard" or "complaint"
	Status     string    `json:"status,omitempty"`
	Diagnostic string    `json:"diagnostic,omitempty"`
}

// enhancedStatus finds an RFC 3463 code in a recorded SMTP reply.
var enhancedStatus = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

// standing returns the status the contract shows for sub and the bounces
// behind it. A reader unsubscribed by a hard bounce or a complaint is
// "bounced" or "complained", read from the suppression list's reason (the
// subscriber row keeps "unsubscribed", which every query that selects
// readers to mail already excludes); the bounce is dated by its
// suppression and described by the refused delivery that caused it.
func (s *Service) standing(ctx context.Context, sub news.Subscriber, hist []store.HistoryEntry) (string, []Bounce, error) {
	bounces := []Bounce{}
	if sub.Status != news.Unsubscribed {
		return string(sub.Status), bounces, nil
	}
	e, err := s.st.SuppressionOf(ctx, s.Hash(sub.Email))
	if err != nil {
		return "", nil, err
	}
	switch e.Reason {
	case "bounce", "bounced":
		b := Bounce{At: e.CreatedAt, Kind: "hard"}
		for _, h := range hist { // newest first
			if h.State == news.DeliveryFailed && strings.HasPrefix(h.LastError, "send (recipient") {
				_, b.Diagnostic, _ = strings.Cut(h.LastError, "): ")
				b.Status = enhancedStatus.FindString(b.Diagnostic)
				break
			}
		}
		return "bounced", append(bounces, b), nil
	case "complaint", "complained":
		return "complained", append(bounces, Bounce{At: e.CreatedAt, Kind: "complaint"}), nil
	}
	return string(sub.Status), bounces, nil
}
