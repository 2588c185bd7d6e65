package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/crieur/crieur/internal/daemon"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/pushimport"
)

// pushImport moves browser subscriptions in from another service. Refused
// lines go to stderr, one line each, as they are found; the counts and
// what applies about the VAPID key go to stdout. It fails (exit 1) when
// the file cannot be read to its end, or when it held lines and none
// could be imported; some refused lines beside imported ones are a
// report, not a failure.
func pushImport(ctx context.Context, app *daemon.Daemon, log *slog.Logger, o *options, stdout, stderr io.Writer) error {
	if app.VAPIDPublicKey == "" {
		return errors.New("this crieur has no VAPID key: imported browsers could get no alert")
	}
	path := o.args[0]
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pushimport.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rep, err := pushimport.Import(ctx, r, pushimport.Config{Store: app.Store, CheckEndpoint: app.CheckPushEndpoint,
		ValidateKeys: push.ValidateSubscriptionKeys, Topics: o.topics,
		Bad: func(le pushimport.LineError) { fmt.Fprintln(stderr, le.Error()) }})
	if err != nil {
		return fmt.Errorf("%s: %w (%d browsers written before it stopped; importing the file again updates them)", path, err, rep.Created+rep.Updated)
	}
	audit(ctx, app, log, "push.import", "", fmt.Sprintf("format=%s created=%d updated=%d duplicates=%d refused=%d", rep.Format, rep.Created, rep.Updated, rep.Duplicates, rep.Bad))
	skipped := 0
	for _, n := range rep.Skipped {
		skipped += n
	}
	fmt.Fprintf(stdout, "%d lines (%s): %d browsers imported, %d already known and updated, %d duplicates, %d refused, %d skipped\n",
		rep.Lines, rep.Format, rep.Created, rep.Updated, rep.Duplicates, rep.Bad, skipped)
	for _, why := range []pushimport.Skip{pushimport.SkipNotWeb, pushimport.SkipUnsubscribed} {
		if n := rep.Skipped[why]; n > 0 {
			fmt.Fprintf(stdout, "skipped %d: %s\n", n, why)
		}
	}
	fmt.Fprintln(stdout, vapidNote(app.VAPIDPublicKey, o.vapidKey, rep.Format))
	if rep.Created+rep.Updated == 0 && rep.Bad > 0 {
		return fmt.Errorf("no browser imported: all %d subscriptions were refused", rep.Bad)
	}
	return nil
}

// vapidNote says whether alerts will reach the imported browsers: a push
// subscription only takes messages signed with the VAPID key it was made
// with. The file cannot say which key that was (OneSignal's export never
// does): the old key, when the operator gives it, is compared.
func vapidNote(own, old string, format pushimport.Format) string {
	if old != "" {
		if sameKey(own, old) {
			return "VAPID: these subscriptions were made with crieur's own public key: alerts will reach them."
		}
		return fmt.Sprintf("VAPID: these subscriptions were made with the key %s, not with crieur's (%s): alerts will not reach them "+
			"until crieur runs with the old service's key pair (CRIEUR_VAPID_PRIVATE_KEY and CRIEUR_VAPID_PUBLIC_KEY); otherwise these readers must opt in again.",
			short(old), short(own))
	}
	src := "this file does not say which key they were made with"
	if format == pushimport.OneSignal {
		src = "OneSignal's export does not say which key they were made with"
	}
	return fmt.Sprintf("VAPID: a subscription only takes alerts signed with the key it was made with, and %s. crieur signs with %s: "+
		"if the old service used another key pair, run crieur with that pair (CRIEUR_VAPID_PRIVATE_KEY and CRIEUR_VAPID_PUBLIC_KEY), "+
		"or these readers must opt in again. Give the old public key with --vapid-public-key to have it checked.", src, short(own))
}

// sameKey compares two base64 public keys, url or standard alphabet, with
// or without padding.
func sameKey(a, b string) bool {
	da, errA := decodeKey(a)
	db, errB := decodeKey(b)
	return errA == nil && errB == nil && string(da) == string(db)
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// short is the start of a public key: enough to recognise it.
func short(k string) string {
	if len(k) > 16 {
		return k[:16] + "…"
	}
	return k
}
