package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/crieur/crieur/internal/news"
)

// command is what one command accepts on its command line. The whole line
// is checked against it before the configuration is read or the database
// opened, so bad usage changes nothing.
type command struct {
	name     string   // one word, or two: "group sub"
	synopsis string   // what follows the command's name, without --config
	help     string   // what it does, in the help text (optional)
	nargs    int      // positional arguments, exactly
	required []string // flags that must be given (a given but bad value is an error, not bad usage)
	flags    func(fs *flag.FlagSet, o *options)
	// check refuses values outside a closed choice the synopsis spells out
	// (editor|admin, daily|weekly): that is bad usage too.
	check func(o *options) error
}

// options is what the command line gave one command.
type options struct {
	config    string
	name      string
	role      string
	email     string
	title     string
	body      string
	url       string
	image     string
	topics    multiFlag
	alsoEmail bool
	vapidKey  string
	priority  string
	mode      string
	interval  string
	maxAge    string
	args      []string // positional
}

// commandList is every command, in the order of the help text.
var commandList = []command{
	{name: "serve", help: "run the daemon"},
	{name: "migrate", help: "apply database migrations and exit"},
	{
		name:     "token create",
		synopsis: "--name NAME [--role editor|admin]",
		required: []string{"name"},
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.name, "name", "", "what the token is for (shown in the admin UI)")
			fs.StringVar(&o.role, "role", "", "editor (the default) or admin")
		},
		check: func(o *options) error {
			if o.role != "" && !news.Role(o.role).Valid() {
				return errors.New("--role must be editor or admin")
			}
			return nil
		},
	},
	{
		name:     "user add",
		synopsis: "--email E --role editor|admin",
		help:     "(password from stdin, or generated)",
		required: []string{"email", "role"},
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.email, "email", "", "login address")
			fs.StringVar(&o.role, "role", "", "editor or admin")
		},
		check: func(o *options) error {
			if !news.Role(o.role).Valid() {
				return errors.New("--role must be editor or admin")
			}
			return nil
		},
	},
	{name: "topic add", synopsis: "SLUG NAME", nargs: 2},
	{name: "vapid generate", help: "print the VAPID public key"},
	{
		name:     "alert send",
		synopsis: "--title T --body B --url U [--topic S]... [--email] [--image URL] [--priority breaking|normal]",
		required: []string{"title", "body", "url"},
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.title, "title", "", "alert title")
			fs.StringVar(&o.body, "body", "", "alert body")
			fs.StringVar(&o.url, "url", "", "the article the alert opens")
			fs.StringVar(&o.image, "image", "", "alert image URL")
			fs.Var(&o.topics, "topic", "topic slug (repeatable; none: every push subscriber)")
			// A switch here; "user add" takes --email with a value.
			fs.BoolVar(&o.alsoEmail, "email", false, "also email the readers who asked for alerts")
			fs.StringVar(&o.priority, "priority", "", "breaking (the default: through quiet hours) or normal (waits for them)")
		},
		check: func(o *options) error {
			if o.priority != "" && !news.Priority(o.priority).Valid() {
				return errors.New("--priority must be breaking or normal")
			}
			return nil
		},
	},
	{
		name:     "alert auto",
		synopsis: "topic:SLUG|feed:URL --mode off|draft|send [--interval D] [--max-age D]",
		help:     "(automatic alerts from a topic's or a feed's new articles)",
		nargs:    1,
		required: []string{"mode"},
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.mode, "mode", "", "off, draft (an editor approves it in the desk) or send")
			fs.StringVar(&o.interval, "interval", "", "least time between two automatic alerts of this rule, e.g. 30m")
			fs.StringVar(&o.maxAge, "max-age", "", "oldest article that raises one, e.g. 2h (default: any)")
		},
		check: func(o *options) error {
			if o.mode != "off" && o.mode != "draft" && o.mode != "send" {
				return errors.New("--mode must be off, draft or send")
			}
			if !strings.HasPrefix(o.args[0], "topic:") && !strings.HasPrefix(o.args[0], "feed:") {
				return errors.New("alert auto needs topic:SLUG or feed:URL")
			}
			return nil
		},
	},
	{
		name:     "digest run",
		synopsis: "daily|weekly",
		nargs:    1,
		check: func(o *options) error {
			if !news.Frequency(o.args[0]).Valid() {
				return errors.New("digest run needs daily or weekly")
			}
			return nil
		},
	},
	{name: "subscribers import", synopsis: "FILE.csv", nargs: 1},
	{name: "subscribers export"},
	{name: "subscribers unsuppress", synopsis: "EMAIL", nargs: 1},
	{
		name:     "push import",
		synopsis: "FILE [--topic S]... [--vapid-public-key KEY]",
		help:     "(browser subscriptions from another service: JSON lines or OneSignal CSV)",
		nargs:    1,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.Var(&o.topics, "topic", "topic slug for the lines that name none (repeatable)")
			fs.StringVar(&o.vapidKey, "vapid-public-key", "", "the old service's VAPID public key, to check it against crieur's")
		},
	},
}

// commands is every command by name, and groups the first words of the
// two-word names.
var commands, groups = func() (map[string]command, map[string]bool) {
	byName, groups := map[string]command{}, map[string]bool{}
	for _, c := range commandList {
		byName[c.name] = c
		if g, _, two := strings.Cut(c.name, " "); two {
			groups[g] = true
		}
	}
	return byName, groups
}()

// usage is the help text, made from commandList.
var usage = func() string {
	var b strings.Builder
	b.WriteString("usage: crieur [--config FILE] COMMAND [args]   (--config may also follow the command)\n\ncommands:\n")
	for _, c := range commandList {
		line := strings.TrimSpace(c.name + " " + c.synopsis)
		if c.help != "" {
			line = fmt.Sprintf("%-40s %s", line, c.help)
		}
		b.WriteString("  " + line + "\n")
	}
	return b.String()
}()

// usageLine is the one-line usage of a command.
func usageLine(name string) string {
	s := "crieur " + name
	if c := commands[name]; c.synopsis != "" {
		s += " " + c.synopsis
	}
	return s + " [--config FILE]"
}

// leadingConfig takes the global --config FILE (or --config=FILE) off the
// front of args, before the command name, and returns it as flag
// arguments for the command. Nothing else may come before the command.
func leadingConfig(args []string) (flags, rest []string, err error) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		a := args[0]
		switch {
		case a == "--config" || a == "-config":
			if len(args) < 2 {
				return nil, nil, usageError{msg: "flag needs an argument: " + a}
			}
			flags, args = append(flags, "--config="+args[1]), args[2:]
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			flags, args = append(flags, a), args[1:]
		default:
			return nil, nil, usageError{msg: "unknown flag " + strconv.Quote(a) + " before the command (only --config FILE may come first)"}
		}
	}
	return flags, args, nil
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// parseArgs parses one command's flags and positional arguments and checks
// them against c. Asked for help, it prints the command's usage on stdout
// and returns flag.ErrHelp.
func parseArgs(name string, c command, args []string, stdout io.Writer) (*options, error) {
	bad := func(msg string) error { return usageError{msg: msg, usage: usageLine(name)} }
	o := &options{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.config, "config", "", "settings file (KEY=VALUE lines)")
	if c.flags != nil {
		c.flags(fs, o)
	}
	if err := fs.Parse(interleave(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: %s\n", usageLine(name))
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, bad(err.Error())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var missing []string
	for _, r := range c.required {
		if !given[r] {
			missing = append(missing, "--"+r)
		}
	}
	if len(missing) > 0 {
		return nil, bad(name + " needs " + strings.Join(missing, ", "))
	}
	o.args = fs.Args()
	switch {
	case len(o.args) > c.nargs && c.nargs == 0:
		return nil, bad(name + " takes no arguments, got " + strconv.Quote(o.args[0]))
	case len(o.args) > c.nargs:
		return nil, bad(fmt.Sprintf("%s takes %s, got an extra argument %q", name, c.synopsis, o.args[c.nargs]))
	case len(o.args) < c.nargs:
		return nil, bad(name + " needs " + c.synopsis)
	}
	if c.check != nil {
		if err := c.check(o); err != nil {
			return nil, bad(err.Error())
		}
	}
	return o, nil
}
