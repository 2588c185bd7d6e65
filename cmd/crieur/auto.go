package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/daemon"
	"github.com/crieur/crieur/internal/store"
)

// alertAuto sets a topic's or a feed's automatic-alert rule and prints it.
func alertAuto(ctx context.Context, app *daemon.Daemon, o options, stdout io.Writer) error {
	r := store.AutoRule{Mode: o.mode}
	if slug, ok := strings.CutPrefix(o.args[0], "topic:"); ok {
		r.Topic = slug
	} else {
		r.Feed = strings.TrimPrefix(o.args[0], "feed:")
	}
	var err error
	if r.MinInterval, err = optDuration("--interval", o.interval); err != nil {
		return err
	}
	if r.MaxAge, err = optDuration("--max-age", o.maxAge); err != nil {
		return err
	}
	if err := app.Store.SetAutoRule(ctx, r); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no such %s (add it first)", o.args[0])
		}
		return err
	}
	if err := app.Store.Audit(ctx, "cli", "alert.auto_rule", o.args[0], fmt.Sprintf("mode %s, interval %s, max age %s", r.Mode, r.MinInterval, r.MaxAge)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s, interval %s, max age %s\n", o.args[0], r.Mode, r.MinInterval, r.MaxAge)
	return nil
}

func optDuration(flag, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s must be a duration such as 30m or 2h", flag)
	}
	return d, nil
}
