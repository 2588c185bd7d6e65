package alert

import (
	"context"
	"errors"
	"strconv"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// RequireApproval makes every alert start awaiting approval
// (CRIEUR_ALERT_APPROVAL=true). Call it before Start.
func (s *Service) RequireApproval(on bool) { s.approval = on }

// ApprovalRequired reports whether every alert waits for a second person.
func (s *Service) ApprovalRequired() bool { return s.approval }

// CanApprove reports whether by may approve alert a: it is awaiting
// approval and by is not its author (an automatic alert has none).
func CanApprove(a news.Alert, by string) bool {
	return a.State == news.AlertAwaitingApproval && a.CreatedBy != by
}

// Approve sends an alert awaiting approval, on behalf of by (an API
// token's or a desk user's audit name). The author cannot approve their
// own alert, nor the one who posted an automatic alert's article
// (forbidden); an alert not awaiting approval is a conflict.
// The audit log names both.
func (s *Service) Approve(ctx context.Context, id int64, by string) error {
	a, err := s.st.AlertBare(ctx, id)
	if err != nil {
		return err
	}
	if a.State != news.AlertAwaitingApproval {
		return news.Errorf(news.CodeConflict, "This alert is not awaiting approval.")
	}
	if a.CreatedBy == by {
		return news.Errorf(news.CodeForbidden, "You wrote this alert: someone else must approve it.")
	}
	author := a.CreatedBy
	if a.ArticleID != 0 {
		// An automatic alert is made of its article: whoever posted it
		// (or flagged it breaking) through the API wrote it, and would
		// otherwise send it to every reader alone.
		poster, err := s.st.ArticlePoster(ctx, a.ArticleID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if poster != "" && poster == by {
			return news.Errorf(news.CodeForbidden, "You posted this alert's article: someone else must approve it.")
		}
		if poster != "" {
			author += " (article posted by " + poster + ")"
		}
	}
	err = s.st.ApproveAlert(ctx, id, by, s.now())
	if errors.Is(err, store.ErrConflict) {
		return news.Errorf(news.CodeConflict, "This alert is not awaiting approval.")
	}
	if err != nil {
		return err
	}
	if err := s.st.Audit(ctx, by, "alert.approve", strconv.FormatInt(id, 10), "written by "+author+": "+a.Title); err != nil {
		s.log.Error("audit write failed", "action", "alert.approve", "alert_id", id, "err", err)
	}
	s.log.Info("alert approved", "alert_id", id, "by", by, "author", a.CreatedBy)
	s.Wake()
	return nil
}
