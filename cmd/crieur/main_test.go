package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/store"
)

// envFor returns a lookup over a test database and outbox.
func envFor(t *testing.T, extra ...string) func(string) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	m := map[string]string{
		"CRIEUR_DATABASE_URL": "sqlite:" + filepath.Join(dir, "c.db"),
		"CRIEUR_MAIL_OUTBOX":  filepath.Join(dir, "outbox"),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func runMain(t *testing.T, env func(string) (string, bool), stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestExitStatuses(t *testing.T) {
	t.Parallel()
	env := envFor(t)
	cases := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"token"}, 2},
		{[]string{"token", "create"}, 2},
		{[]string{"topic", "add", "only-slug"}, 2},
		{[]string{"digest", "run", "hourly"}, 2},
		{[]string{"user", "add", "--email", "x@example.com", "--role", "boss"}, 2},
		{[]string{"topic", "add", "Bad Slug", "Name"}, 1},
		{[]string{"migrate"}, 0},
		{[]string{"topic", "add", "afrique", "Afrique"}, 0},
		{[]string{"topic", "add", "afrique", "Afrique"}, 1},
	}
	for _, c := range cases {
		code, _, errOut := runMain(t, env, "", c.args...)
		if code != c.code {
			t.Errorf("crieur %v: exit %d, want %d (stderr %q)", c.args, code, c.code, errOut)
		}
		if code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("crieur %v: error is not one line: %q", c.args, errOut)
		}
	}
}

// dbPath is where env puts the SQLite database.
func dbPath(t *testing.T, env func(string) (string, bool)) string {
	t.Helper()
	u, _ := env("CRIEUR_DATABASE_URL")
	return strings.TrimPrefix(u, "sqlite:")
}

// TestBadUsage checks that every command refuses flags it lacks and
// arguments it does not take with exit 2 and one line on stderr, before it
// opens the database, while a flag given with a bad value is an error (1).
func TestBadUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		code int
	}{
		// Required flags absent.
		{[]string{"alert", "send", "--title", "x", "--body", "y"}, 2},
		{[]string{"alert", "send", "--body", "y", "--url", "https://a.example"}, 2},
		{[]string{"alert", "send", "--title", "x", "--url", "https://a.example"}, 2},
		{[]string{"alert", "send"}, 2},
		{[]string{"token", "create", "--role", "admin"}, 2},
		{[]string{"user", "add", "--email", "x@example.com"}, 2},
		{[]string{"user", "add", "--role", "admin"}, 2},
		{[]string{"token", "create", "--name"}, 2},
		// Positional arguments a command does not take.
		{[]string{"serve", "extra"}, 2},
		{[]string{"migrate", "extra"}, 2},
		{[]string{"token", "create", "--name", "x", "extra"}, 2},
		{[]string{"user", "add", "--email", "x@example.com", "--role", "admin", "extra"}, 2},
		{[]string{"topic", "add", "afrique", "Afrique", "extra"}, 2},
		{[]string{"vapid", "generate", "extra"}, 2},
		{[]string{"alert", "send", "--title", "x", "--body", "y", "--url", "https://a.example", "extra"}, 2},
		{[]string{"digest", "run", "daily", "extra"}, 2},
		{[]string{"subscribers", "import", "a.csv", "extra"}, 2},
		{[]string{"subscribers", "import"}, 2},
		{[]string{"subscribers", "export", "extra"}, 2},
		// Flags a command does not take.
		{[]string{"migrate", "--name", "x"}, 2},
		{[]string{"topic", "add", "--title", "x", "afrique", "Afrique"}, 2},
		{[]string{"token", "create", "--name", "x", "--role", "boss"}, 2},
		// Present with a bad value: an error, not bad usage.
		{[]string{"alert", "send", "--title", "x", "--body", "y", "--url", "notaurl"}, 1},
		{[]string{"alert", "send", "--title", "", "--body", "y", "--url", "https://a.example"}, 1},
		{[]string{"token", "create", "--name", ""}, 1},
		{[]string{"user", "add", "--email", "not an address", "--role", "admin"}, 1},
	}
	for _, c := range cases {
		env := envFor(t)
		code, out, errOut := runMain(t, env, "", c.args...)
		if code != c.code {
			t.Errorf("crieur %q: exit %d, want %d (stderr %q)", c.args, code, c.code, errOut)
			continue
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") != 0 || strings.TrimSpace(errOut) == "" {
			t.Errorf("crieur %q: stderr is not one line: %q", c.args, errOut)
		}
		if out != "" {
			t.Errorf("crieur %q: stdout %q, want nothing", c.args, out)
		}
		if code == 2 {
			if _, err := os.Stat(dbPath(t, env)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("crieur %q: bad usage touched the database (%v)", c.args, err)
			}
		}
	}
}

// TestConfigBeforeOrAfterCommand checks that --config is read in either
// place and that nothing else may come before the command.
func TestConfigBeforeOrAfterCommand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string // CONFIG stands for the settings file
		code int
	}{
		{[]string{"--config", "CONFIG", "migrate"}, 0},
		{[]string{"--config=CONFIG", "migrate"}, 0},
		{[]string{"-config", "CONFIG", "migrate"}, 0},
		{[]string{"migrate", "--config", "CONFIG"}, 0},
		{[]string{"migrate", "--config=CONFIG"}, 0},
		{[]string{"--config", "CONFIG", "topic", "add", "afrique", "Afrique"}, 0},
		{[]string{"topic", "add", "afrique", "--config", "CONFIG", "Afrique"}, 0},
		{[]string{"--config", "CONFIG"}, 2},
		{[]string{"--config"}, 2},
		{[]string{"--verbose", "migrate"}, 2},
		{[]string{"--name", "x", "token", "create"}, 2},
		{[]string{"--", "migrate"}, 2},
		{[]string{"--config", "CONFIG", "frobnicate"}, 2},
	}
	for _, c := range cases {
		dir := t.TempDir()
		db := filepath.Join(dir, "from-config.db")
		file := filepath.Join(dir, "crieur.conf")
		if err := os.WriteFile(file, []byte("CRIEUR_DATABASE_URL=sqlite:"+db+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = strings.ReplaceAll(a, "CONFIG", file)
		}
		// No CRIEUR_DATABASE_URL here: only the file names the database.
		env := func(k string) (string, bool) {
			if k == "CRIEUR_MAIL_OUTBOX" {
				return filepath.Join(dir, "outbox"), true
			}
			return "", false
		}
		code, _, errOut := runMain(t, env, "", args...)
		if code != c.code {
			t.Errorf("crieur %q: exit %d, want %d (stderr %q)", c.args, code, c.code, errOut)
			continue
		}
		_, err := os.Stat(db)
		if c.code == 0 && err != nil {
			t.Errorf("crieur %q: the settings file was not read: %v", c.args, err)
		}
		if c.code == 2 && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("crieur %q: bad usage touched the database (%v)", c.args, err)
		}
	}
}

func TestMigrateSaysWhatItApplied(t *testing.T) {
	t.Parallel()
	files, err := store.MigrationFiles(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	env := envFor(t)
	for _, want := range []string{fmt.Sprintf("applied %d migrations\n", len(files)), "database is up to date\n"} {
		code, out, errOut := runMain(t, env, "", "migrate")
		if code != 0 || out != want {
			t.Errorf("migrate: exit %d, stdout %q, want %q (stderr %q)", code, out, want, errOut)
		}
	}
}

func TestTokenCreatePrintsOnlyTheToken(t *testing.T) {
	t.Parallel()
	code, out, errOut := runMain(t, envFor(t), "", "token", "create", "--name", "cms", "--role", "admin")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "crieur_") || strings.Count(out, "\n") != 1 || len(strings.TrimSpace(out)) < 40 {
		t.Fatalf("stdout = %q", out)
	}
}

func TestUserAddReadsOrGeneratesPassword(t *testing.T) {
	t.Parallel()
	env := envFor(t)
	if code, out, errOut := runMain(t, env, "correct horse battery\n", "user", "add", "--email", "a@example.com", "--role", "editor"); code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ := runMain(t, env, "", "user", "add", "--email", "b@example.com", "--role", "admin")
	if code != 0 || len(strings.TrimSpace(out)) < 16 {
		t.Fatalf("generated password: exit %d, %q", code, out)
	}
	if code, _, _ := runMain(t, env, "short\n", "user", "add", "--email", "c@example.com", "--role", "admin"); code != 1 {
		t.Fatalf("short password accepted: %d", code)
	}
}

// TestConfigErrorExit: a bad setting is an error (exit 1) named on one
// line of stderr, before any database is opened. The settings themselves
// are checked in internal/daemon (TestConfigValidation, TestConfigFileKeys).
func TestConfigErrorExit(t *testing.T) {
	t.Parallel()
	env := envFor(t, "CRIEUR_TIMEZONE", "Mars/Olympus")
	code, out, errOut := runMain(t, env, "", "migrate")
	if code != 1 || !strings.Contains(errOut, "CRIEUR_TIMEZONE") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || out != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and one line naming CRIEUR_TIMEZONE", code, out, errOut)
	}
	if _, err := os.Stat(dbPath(t, env)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a bad setting touched the database (%v)", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "crieur.conf")
	if err := os.WriteFile(file, []byte("# digests\nCRIEUR_DIGET_DAILY=0 6 * * *\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runMain(t, envFor(t), "", "migrate", "--config", file); code != 1 || !strings.Contains(errOut, "line 2: unknown setting CRIEUR_DIGET_DAILY") {
		t.Errorf("misspelt setting in the file: exit %d, stderr %q", code, errOut)
	}
}

func TestAlertSendFlagsInAnyOrder(t *testing.T) {
	t.Parallel()
	env := envFor(t)
	if code, _, errOut := runMain(t, env, "", "topic", "add", "afrique", "Afrique"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := runMain(t, env, "", "alert", "send", "--title", "Séisme", "--email", "--topic", "afrique",
		"--body", "Un séisme a frappé", "--url", "https://journal.example/seisme")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.TrimSpace(out) != "1" {
		t.Fatalf("stdout = %q, want the alert id", out)
	}
	if code, _, _ := runMain(t, env, "", "alert", "send", "--title", "x", "--body", "y", "--url", "https://a.example", "--topic", "sport"); code != 1 {
		t.Fatalf("unknown topic: exit %d", code)
	}
}
