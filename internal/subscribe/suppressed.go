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
	Kind       string    `json:"kind"` // "hard", "soft" or "complaint"
	Status     string    `json:"status,omitempty"`
	Diagnostic string    `json:"diagnostic,omitempty"`
}

// enhancedStatus finds an RFC 3463 code in a recorded SMTP reply.
var enhancedStatus = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

// maxBounces is how many of a reader's bounces the API and the data
// download show, newest first.
const maxBounces = 100

// standing returns the status the contract shows for sub and the bounces
// behind it, from the reader's bounce history. A reader unsubscribed by a
// hard bounce or a complaint before bounced and complained were statuses
// of their own (the row says "unsubscribed", the suppression list's reason
// says why) is shown as such, the bounce dated by its suppression and
// described by the refused delivery that caused it.
func (s *Service) standing(ctx context.Context, sub news.Subscriber, hist []store.HistoryEntry) (string, []Bounce, error) {
	recorded, err := s.st.Bounces(ctx, sub.ID, maxBounces)
	if err != nil {
		return "", nil, err
	}
	bounces := make([]Bounce, 0, len(recorded))
	for _, b := range recorded {
		bounces = append(bounces, Bounce{At: b.At, Kind: b.Kind, Status: b.Status, Diagnostic: b.Diagnostic})
	}
	if sub.Status != news.Unsubscribed {
		return string(sub.Status), bounces, nil
	}
	e, err := s.st.SuppressionOf(ctx, s.Hash(sub.Email))
	if err != nil {
		return "", nil, err
	}
	switch e.Reason {
	case "bounce", "bounced":
		if len(bounces) == 0 {
			b := Bounce{At: e.CreatedAt, Kind: "hard"}
			for _, h := range hist { // newest first
				if h.State == news.DeliveryFailed && strings.HasPrefix(h.LastError, "send (recipient") {
					_, b.Diagnostic, _ = strings.Cut(h.LastError, "): ")
					b.Status = enhancedStatus.FindString(b.Diagnostic)
					break
				}
			}
			bounces = append(bounces, b)
		}
		return string(news.Bounced), bounces, nil
	case "complaint", "complained":
		if len(bounces) == 0 {
			bounces = append(bounces, Bounce{At: e.CreatedAt, Kind: "complaint"})
		}
		return string(news.Complained), bounces, nil
	}
	return string(sub.Status), bounces, nil
}
