package alert

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Automatic alerts: a topic or a feed set to draft or send (store.AutoRule)
// raises a normal-priority alert from each new article (or a CMS article
// posted with "breaking": true); a draft waits for an editor's approval.
// Before an automatic alert goes out its article's URL must answer 2xx
// (an embargoed article, or a CMS page not yet published, answers 404 or
// 403): checked again after 10 s, 20 s, 40 s... up to 5 min apart, and
// given up (the alert fails, saying why) after checkTries.

// The automatic-alert modes of a rule.
const (
	ModeOff   = "off"
	ModeDraft = "draft"
	ModeSend  = "send"
)

// ValidMode reports whether m is a rule's mode.
func ValidMode(m string) bool { return m == ModeOff || m == ModeDraft || m == ModeSend }

// checkTries bounds the GETs of an article (about 25 minutes).
const checkTries = 10

// checkDelay is the wait after the n-th failed check (n from 1).
func checkDelay(n int) time.Duration {
	return min(10*time.Second<<min(n-1, 8), 5*time.Minute)
}

// CheckArticlesWith sets how an automatic alert's article URL is checked
// before it goes out (Reachable, through the outgoing-connection guard).
// Without it automatic alerts go out unchecked. Call it before Start.
func (s *Service) CheckArticlesWith(f func(ctx context.Context, url string) error) { s.reachable = f }

// Reachable returns a check that one GET of a URL with client answers
// 2xx (after redirects).
func Reachable(client *http.Client, userAgent string) func(ctx context.Context, url string) error {
	return func(ctx context.Context, url string) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", userAgent)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		// Read a little, so the connection can be reused; the page itself
		// does not matter.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("the article answered HTTP %d", resp.StatusCode)
		}
		return nil
	}
}

// splitChecked separates the alerts whose article must be checked.
func (s *Service) splitChecked(ctx context.Context, ids []int64) (plain, checked []int64, err error) {
	if s.reachable == nil {
		return ids, nil, nil
	}
	for _, id := range ids {
		a, err := s.st.AlertBare(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if a.CheckURL {
			checked = append(checked, id)
		} else {
			plain = append(plain, id)
		}
	}
	return plain, checked, nil
}

// articleReady checks an automatic alert's article before its deliveries
// are written; false means not now (checked again later, or given up).
func (s *Service) articleReady(ctx context.Context, id int64) (bool, error) {
	if s.reachable == nil {
		return true, nil
	}
	a, err := s.st.AlertBare(ctx, id)
	if err != nil || !a.CheckURL {
		return err == nil, err
	}
	checkErr := s.reachable(ctx, a.URL)
	now := s.now()
	if checkErr == nil {
		s.log.Info("automatic alert's article reachable", "alert_id", id, "checks", a.Checks+1)
		return true, s.st.AlertChecked(ctx, id, now)
	}
	if ctx.Err() != nil {
		return false, nil
	}
	n := a.Checks + 1
	reason := "article not reachable: " + checkErr.Error()
	if n >= checkTries {
		s.log.Warn("automatic alert given up: its article never answered", "alert_id", id, "checks", n, "err", checkErr)
		return false, s.st.FailAlert(ctx, id, reason+" (after "+strconv.Itoa(n)+" tries)", now)
	}
	s.log.Info("automatic alert waits for its article", "alert_id", id, "checks", n, "err", checkErr)
	return false, s.st.AlertCheckLater(ctx, id, now.Add(checkDelay(n)), reason)
}

// Decide returns what the rules make of article a at now: the mode
// (ModeOff: no alert) and the rules whose interval must allow it. Rules
// apply by the article's topics and its feed; a draft rule wins over a
// send rule (someone wanted these checked); an article older than a
// rule's max age is left to the others; an article flagged breaking
// raises an alert (a draft if a rule says so) whatever the intervals.
func Decide(a news.Article, rules []store.AutoRule, now time.Time) (mode string, throttle []store.AutoRule) {
	mode = ModeOff
	if a.Breaking {
		mode = ModeSend
	}
	for _, r := range rules {
		applies := r.Feed != "" && r.Feed == a.Feed
		for _, t := range a.Topics {
			applies = applies || (r.Topic != "" && r.Topic == t)
		}
		if !applies || r.Mode == ModeOff || (r.MaxAge > 0 && now.Sub(a.PublishedAt) > r.MaxAge) {
			continue
		}
		switch {
		case r.Mode == ModeDraft:
			mode = ModeDraft
		case mode == ModeOff:
			mode = ModeSend
		}
		if r.MinInterval > 0 && !a.Breaking {
			throttle = append(throttle, r)
		}
	}
	return mode, throttle
}

// raiseAuto settles the articles no rule has looked at yet.
func (s *Service) raiseAuto(ctx context.Context) error {
	arts, err := s.st.UnseenArticles(ctx, 100)
	if err != nil || len(arts) == 0 {
		return err
	}
	rules, err := s.st.AutoRules(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, art := range arts {
		mode, throttle := Decide(art, rules, now)
		if mode == ModeOff {
			if _, _, err := s.st.RaiseAutoAlert(ctx, art.ID, nil, nil, nil, now); err != nil {
				return err
			}
			continue
		}
		r := news.AlertRequest{Title: cut(art.Title, 200), Body: cut(art.Summary, 300), URL: art.URL, ImageURL: art.ImageURL,
			Topics: art.Topics, Priority: news.Normal, CreatedBy: news.AutoAuthor, Draft: mode == ModeDraft,
			CheckURL: true, ArticleID: art.ID}
		a, ids, err := s.validate(ctx, r)
		if err != nil && a.ImageURL != "" {
			r.ImageURL = ""
			a, ids, err = s.validate(ctx, r)
		}
		if err != nil {
			s.log.Warn("automatic alert not raised: the article does not make a valid alert", "article_id", art.ID, "err", err)
			if _, _, err := s.st.RaiseAutoAlert(ctx, art.ID, nil, nil, nil, now); err != nil {
				return err
			}
			continue
		}
		a.CreatedAt, a.SendAt, a.State = now, now, news.AlertScheduled
		if r.Draft || s.approval {
			a.State = news.AlertAwaitingApproval
		}
		id, raised, err := s.st.RaiseAutoAlert(ctx, art.ID, &a, ids, throttle, now)
		if err != nil {
			return err
		}
		if !raised {
			s.log.Info("automatic alert not raised: too soon after the last", "article_id", art.ID)
			continue
		}
		if err := s.st.Audit(ctx, news.AutoAuthor, "alert.auto", strconv.FormatInt(id, 10), "article "+strconv.FormatInt(art.ID, 10)+": "+a.Title); err != nil {
			s.log.Error("audit write failed", "action", "alert.auto", "alert_id", id, "err", err)
		}
		s.log.Info("automatic alert raised", "alert_id", id, "article_id", art.ID, "state", a.State)
	}
	return nil
}

// cut shortens s to at most n characters, ending with "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
