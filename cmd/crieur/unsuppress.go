package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/crieur/crieur/internal/daemon"
)

// unsuppress lifts the suppression of one address, for when a mail server
// refused readers it should not have. The audit log names the address by
// the start of its keyed hash, never in clear.
func unsuppress(ctx context.Context, app *daemon.Daemon, log *slog.Logger, email string, stdout io.Writer) error {
	hash := app.Subscribe.Hash(email)
	lifted, err := app.Store.Unsuppress(ctx, hash)
	if err != nil {
		return err
	}
	if !lifted {
		fmt.Fprintln(stdout, "not suppressed")
		return nil
	}
	audit(ctx, app, log, "subscribers.unsuppress", "suppression:"+hash[:16], "")
	fmt.Fprintln(stdout, "suppression lifted: the reader may subscribe again")
	return nil
}
