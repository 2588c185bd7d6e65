package daemon

import (
	"log/slog"

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
