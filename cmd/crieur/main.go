// Command crieur is a newsletter and breaking-news daemon for a news
// publisher: subscribers and their topics, article intake from feeds and a
// CMS API, cron-scheduled digest emails, and web push alerts. See the
// README for the commands and settings.
//
// This package holds the command line only (flags, the command table, the
// one-shot commands); the daemon itself is built by internal/daemon.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crieur/crieur/internal/daemon"
	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/gcpolicy"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

func main() {
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv))
}

// usageError is bad command-line usage: exit status 2. With usage set
// (one command's usage line) it is reported on one line; without, the
// list of commands follows it.
type usageError struct{ msg, usage string }

func (e usageError) Error() string { return e.msg }

// Main runs one command and returns the exit status: 0 success, 1 error
// (one line on stderr), 2 bad usage.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	err := run(ctx, args, stdin, stdout, stderr, env)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		if ue.usage != "" {
			fmt.Fprintf(stderr, "crieur: %s (usage: %s)\n", ue.msg, ue.usage)
		} else {
			fmt.Fprintf(stderr, "crieur: %s\n\n%s", ue.msg, usage)
		}
		return 2
	}
	fmt.Fprintf(stderr, "crieur: %s\n", oneLine(err))
	return 1
}

func oneLine(err error) string {
	if e, ok := news.AsError(err); ok {
		return e.Message
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func newLogger(cfg daemon.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	global, args, err := leadingConfig(args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usageError{msg: "no command"}
	}
	cmd, rest := args[0], args[1:]
	if cmd == "help" || isHelp(cmd) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if groups[cmd] {
		if len(rest) == 0 {
			return usageError{msg: cmd + " needs a subcommand"}
		}
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	spec, ok := commands[cmd]
	if !ok {
		return usageError{msg: "unknown command " + strconv.Quote(cmd)}
	}
	// A --config after the command wins over one before it, as a repeated
	// flag does.
	o, err := parseArgs(cmd, spec, append(global, rest...), stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	pos := o.args
	cfg, err := daemon.Load(o.config, env)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	if cmd == "serve" {
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		percent, limit := gcpolicy.Apply(func(k string) string { v, _ := env(k); return v })
		log.Debug("garbage collector", "gogc", percent, "memory_limit", limit, "note", "0: set by GOGC/GOMEMLIMIT")
		d, err := daemon.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Run(ctx)
	}
	// One-shot commands log only warnings, to keep stdout clean.
	quiet := newLogger(daemon.Config{LogFormat: cfg.LogFormat, LogLevel: "warn"}, stderr)
	app, err := daemon.New(ctx, cfg, quiet)
	if err != nil {
		return err
	}
	defer app.Close()
	switch cmd {
	case "migrate":
		switch app.Migrated() {
		case 0:
			fmt.Fprintln(stdout, "database is up to date")
		case 1:
			fmt.Fprintln(stdout, "applied 1 migration")
		default:
			fmt.Fprintf(stdout, "applied %d migrations\n", app.Migrated())
		}
		return nil
	case "token create":
		if strings.TrimSpace(o.name) == "" {
			return errors.New("--name must not be empty")
		}
		r := news.Role(o.role)
		if r == "" {
			r = news.RoleEditor
		}
		tok, err := desk.New(app.Store, quiet).CreateToken(ctx, "cli", o.name, r)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
		return nil
	case "user add":
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		addr, generated, err := desk.New(app.Store, quiet).CreateUser(ctx, "cli", o.email, news.Role(o.role), pw)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("a user %s already exists", addr)
		}
		if e, ok := news.AsError(err); ok && e.Field == "email" {
			return fmt.Errorf("--email: %w", err)
		}
		if err != nil {
			return err
		}
		if generated != "" {
			fmt.Fprintln(stdout, generated)
		}
		return nil
	case "topic add":
		if _, err := desk.New(app.Store, quiet).CreateTopic(ctx, "cli", pos[0], pos[1]); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("topic %s already exists", pos[0])
			}
			return err
		}
		return nil
	case "vapid generate":
		fmt.Fprintln(stdout, app.VAPIDPublicKey)
		return nil
	case "alert send":
		return alertSend(ctx, app, news.AlertRequest{Title: o.title, Body: o.body, URL: o.url, ImageURL: o.image, Topics: o.topics,
			Email: o.alsoEmail, CreatedBy: "cli", Priority: news.Priority(o.priority)}, stdout)
	case "alert auto":
		return alertAuto(ctx, app, *o, stdout)
	case "digest run":
		return digestRun(ctx, app, news.Frequency(pos[0]), stdout)
	case "subscribers import":
		return importCSV(ctx, app, quiet, pos[0], stdout)
	case "push import":
		return pushImport(ctx, app, quiet, o, stdout, stderr)
	case "subscribers unsuppress":
		return unsuppress(ctx, app, quiet, pos[0], stdout)
	case "subscribers export":
		w := bufio.NewWriterSize(stdout, 64<<10)
		if err := app.Subscribe.ExportCSV(ctx, w); err != nil {
			return err
		}
		return w.Flush()
	}
	return nil
}

// interleave lets flags follow positional arguments ("topic add a A
// --config f"), which the flag package alone does not.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !isBoolFlag(fs, a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// isBoolFlag reports whether the flag named by arg takes no value.
func isBoolFlag(fs *flag.FlagSet, arg string) bool {
	f := fs.Lookup(strings.TrimLeft(arg, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// readPassword reads one line from stdin; "" (stdin a terminal or empty)
// asks the desk service to generate one.
func readPassword(stdin io.Reader) (string, error) {
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return "", nil
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func alertSend(ctx context.Context, app *daemon.Daemon, req news.AlertRequest, stdout io.Writer) error {
	id, err := app.Alerts.Send(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	// Fan out from this process too, so the command works with no daemon
	// running; with one running, both share the queue.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	_ = app.Pusher.Start(ctx)
	if req.Email {
		_ = app.Mailer.Start(ctx)
	}
	defer stopWithin(app.Pusher, 5*time.Second)
	defer stopWithin(app.Mailer, 5*time.Second)
	for ctx.Err() == nil {
		if err := app.Alerts.RunOnce(ctx); err != nil {
			return err
		}
		a, err := app.Store.Alert(ctx, id)
		if err != nil {
			return err
		}
		if a.State == news.AlertAwaitingApproval {
			fmt.Fprintf(os.Stderr, "alert %d awaits approval by someone else (the desk, or POST /api/v1/alerts/%d/approve)\n", id, id)
			return nil
		}
		if a.State == news.AlertSending && a.Enqueued {
			// Messages held for browsers' quiet hours (or retried much
			// later) are for a running daemon: do not wait hours here.
			waiting, err := app.Store.WaitingPush(ctx, id, time.Now().Add(time.Minute))
			if err != nil {
				return err
			}
			if waiting > 0 && a.Delivered+a.Failed+a.Expired+waiting >= a.Targeted && a.EmailSent+a.EmailFailed >= a.Emails {
				fmt.Fprintf(os.Stderr, "alert %d: browsers targeted %d, delivered %d, failed %d, expired %d; %d wait in the queue (quiet hours): crieur serve sends them\n",
					id, a.Targeted, a.Delivered, a.Failed, a.Expired, waiting)
				return nil
			}
		}
		if a.State != news.AlertSending && a.State != news.AlertScheduled {
			fmt.Fprintf(os.Stderr, "alert %d %s: browsers targeted %d, delivered %d, failed %d, expired %d; emails %d, sent %d, failed %d\n",
				id, a.State, a.Targeted, a.Delivered, a.Failed, a.Expired, a.Emails, a.EmailSent, a.EmailFailed)
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

func digestRun(ctx context.Context, app *daemon.Daemon, f news.Frequency, stdout io.Writer) error {
	id, err := app.Digests.RunNow(ctx, f, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	_ = app.Mailer.Start(ctx)
	defer stopWithin(app.Mailer, 5*time.Second)
	for ctx.Err() == nil {
		if err := app.Digests.RunOnce(ctx); err != nil {
			return err
		}
		run, err := app.Store.Run(ctx, id)
		if err != nil {
			return err
		}
		if run.State == news.RunDone || (run.State == news.RunFailed && run.Error != "") {
			fmt.Fprintf(stdout, "state=%s recipients=%d sent=%d failed=%d skipped_empty=%d\n", run.State, run.Recipients, run.Sent, run.Failed, run.SkippedEmpty)
			if run.State == news.RunFailed {
				return fmt.Errorf("digest run %d failed: %s", id, run.Error)
			}
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	return ctx.Err()
}

func importCSV(ctx context.Context, app *daemon.Daemon, log *slog.Logger, path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := app.Subscribe.Import(ctx, bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return err
	}
	audit(ctx, app, log, "subscribers.import", path, fmt.Sprintf("imported=%d rejected=%d", rep.Imported, rep.RejectedTotal()))
	fmt.Fprintf(stdout, "imported %d (%d pending confirmation), already there %d, suppressed %d, unsubscribed %d, rejected %d\n",
		rep.Imported, rep.Pending, rep.Existing, rep.Suppressed, rep.Unsubscribed, rep.RejectedTotal())
	for _, r := range rep.Rejected {
		fmt.Fprintf(stdout, "line %d: %s\n", r.Line, r.Reason)
	}
	if rep.MoreRejected > 0 {
		fmt.Fprintf(stdout, "and %d more rejected lines\n", rep.MoreRejected)
	}
	if rep.Pending > 0 {
		// Send the confirmation emails before exiting.
		_ = app.Mailer.Start(ctx)
		defer stopWithin(app.Mailer, 10*time.Second)
		for ctx.Err() == nil {
			n, err := app.Store.PendingEmails(ctx)
			if err != nil || n == 0 {
				return err
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// stopWithin stops a pipeline the command started, giving messages in
// flight up to grace.
func stopWithin(s interface{ Stop(context.Context) }, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	s.Stop(ctx)
}

// audit records what a command did in the audit log. The command's work is
// done by then: a failed write is logged (on stderr) rather than undoing
// it or failing the command.
func audit(ctx context.Context, app *daemon.Daemon, log *slog.Logger, action, target, detail string) {
	if err := app.Store.Audit(ctx, "cli", action, target, detail); err != nil {
		log.Error("audit log write failed", "action", action, "err", err)
	}
}
