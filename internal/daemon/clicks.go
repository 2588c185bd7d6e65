package daemon

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
)

// newClicks builds the tracked links' service: tokens under a key of their
// own, counts reported to the Prometheus counters.
func newClicks(cfg Config, st *store.Store, secret, siteURL string, log *slog.Logger, m *web.Metrics) (*click.Service, error) {
	tokens, err := click.NewTokens(derive(secret, "click-links"))
	if err != nil {
		return nil, err
	}
	return click.New(click.Config{Store: st, Tokens: tokens, BaseURL: siteURL, TrackReaders: cfg.TrackReaders, Log: log,
		Counted: m.Clicked}), nil
}

// parseDays reads a duration as "180d" (days) or as Go writes one
// ("4320h"); it must be positive.
func parseDays(v string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, errors.New("want a number of days such as 180d, or a duration such as 4320h")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, errors.New("want a number of days such as 180d, or a duration such as 4320h")
		}
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}
