package subscribe

import (
	"context"
	"time"
)

// Click is one link a reader opened in an email (kept only with
// CRIEUR_TRACK_READERS=true).
type Click struct {
	At time.Time `json:"at"`
	// Run or Alert is the email's digest run or alert; Article the story
	// (0: the alert's own link). Ids are strings in JSON, as everywhere.
	Run     int64 `json:"run,omitempty,string"`
	Alert   int64 `json:"alert,omitempty,string"`
	Article int64 `json:"article,omitempty,string"`
	// Scanner: the fetch was judged a mail scanner's, not counted as a
	// click.
	Scanner bool `json:"scanner,omitempty"`
}

// clicks returns the reader's kept clicks, newest first.
func (s *Service) clicks(ctx context.Context, id int64) ([]Click, error) {
	rows, err := s.st.ReaderClicks(ctx, id, 1000)
	if err != nil {
		return nil, err
	}
	var out []Click
	for _, r := range rows {
		out = append(out, Click{At: r.At, Run: r.RunID, Alert: r.AlertID, Article: r.ArticleID, Scanner: r.Scanner})
	}
	return out, nil
}
