package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/store/pgcluster"
	"github.com/crieur/crieur/internal/testenv"
)

// TestMain lets the test binary play the sink and stub children, as the
// bench binary does when re-executed with -sink or -push-stub.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		if err := workerMain(os.Args[1:]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	for i, a := range os.Args[1:] {
		switch a {
		case "-push-stub-tls":
			// -push-stub-tls -push-latency D -push-cert FILE -push-streams N
			args := os.Args[i+2:]
			lat, _ := time.ParseDuration(args[1])
			streams, _ := strconv.Atoi(args[5])
			if err := runPushStubTLS(lat, args[3], streams); err != nil {
				os.Exit(1)
			}
			os.Exit(0)
		case "-sink":
			if err := runSMTPSink(); err != nil {
				os.Exit(1)
			}
			os.Exit(0)
		case "-push-stub":
			if err := runPushStub(0); err != nil {
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// TestSmallRun runs every scenario at a tiny size and checks the report:
// every message delivered, every section present.
func TestSmallRun(t *testing.T) {
	out := t.TempDir()
	o := options{n: 150, pushN: 150, assemblyN: 300, articles: 30, smtpConns: 2, pushConc: 8, rawN: 50, baseN: 50, out: out}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"## A. Daily digest to 150 readers", "| digests sent | 150 (150 sent, 0 failed in the run record) |  | met |",
		"## C. One alert to 150 push subscriptions", "| deliveries (sent / failed / expired) | 150 / 0 / 0 |  | met |",
		"## B. Digest assembly for 300 readers", "| readers / digests written / skipped (nothing new) | 300 / 300 / 0 |  | met |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// TestInstancesPostgres runs the instances scenario at a tiny size on a
// throwaway PostgreSQL cluster: every message delivered with one and with
// two instance processes, and the database's CPU measured.
func TestInstancesPostgres(t *testing.T) {
	t.Parallel()
	if !pgcluster.Available() {
		testenv.Missing(t, "PostgreSQL server")
	}
	out := t.TempDir()
	o := options{n: 200, pushN: 200, articles: 30, smtpConns: 2, pushConc: 8, out: out, only: "instances", instances: "1,2", db: "postgres"}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"## D. Several instances on one database",
		"| digest, SQLite, 1 instance |", "| digest, PostgreSQL, 1 instance |", "| digest, PostgreSQL, 2 instances |",
		"| push, SQLite, 1 instance |", "| push, PostgreSQL, 1 instance |", "| push, PostgreSQL, 2 instances |",
		"µs database; database share",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "**missed**") {
		t.Errorf("a message was lost:\n%s", md)
	}
}

// TestServeRun runs the serve scenario at a tiny size: a real `crieur
// serve` process, set up through its commands, sends a digest and an alert
// asked for through its API, and the report has both sections with every
// message delivered and non-zero rates.
func TestServeRun(t *testing.T) {
	out := t.TempDir()
	o := options{n: 200, pushN: 200, reps: 1, smtpConns: 4, pushConc: 8, rawN: 100, baseN: 100, out: out, only: "serve"}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"## E. The shipped daemon: a daily digest to 200 readers",
		"| digests per repetition: sent / failed / skipped (API); received by the sink | 200 / 0 / 0; 200 |  | met |",
		"## F. The shipped daemon: one alert to 200 browsers",
		"| pushes per repetition: delivered / failed / expired (API); received by the stub | 200 / 0 / 0; 200 |  | met |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	for _, metric := range []string{"**crieur serve, digests/s** (POST → done)", "raw go-mail, same sink, connections and message",
		"**crieur serve, pushes/s** (POST → done)", "webpush-go v1.4.0 loop, shared client"} {
		if r := leadingNumber(md, "| "+metric+" | "); r <= 0 {
			t.Errorf("%s: rate %v, want > 0:\n%s", metric, r, md)
		}
	}
}

// leadingNumber is the number that starts the text after prefix in md
// (0 when there is none).
func leadingNumber(md, prefix string) float64 {
	_, rest, ok := strings.Cut(md, prefix)
	if !ok {
		return 0
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(rest[:end], 64)
	return v
}

// TestPushScaleRun runs the internet-scale scenario at a tiny size: a
// `crieur serve` process sends one alert to browsers on the HTTP/2-over-TLS
// stub, every push arrives, and the daemon shares its connections: 300
// requests, 64 in flight, 100 streams a connection, so one or two
// connections, not one per request in flight.
func TestPushScaleRun(t *testing.T) {
	out := t.TempDir()
	o := options{scaleN: 300, pushConc: 64, pushConcSet: true, stubStreams: 100, pushLatency: 5 * time.Millisecond, out: out, only: "push-scale"}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	if !strings.Contains(md, "| delivered / failed / expired (API); received by the stub | 300 / 0 / 0; 300 |  | met |") {
		t.Errorf("not every push arrived:\n%s", md)
	}
	if conns := leadingNumber(md, "| connections the daemon opened / most streams on one / most requests in flight | "); conns < 1 || conns > 2 {
		t.Errorf("the daemon opened %v connections to the stub, want 1 or 2:\n%s", conns, md)
	}
	// The webpush-go baseline on the same stub: every push arrived, over
	// HTTP/2 (streams shared on a connection), and its figures are there.
	if !strings.Contains(md, "| webpush-go v1.4.0: sent / errors; received by the stub | 300 / 0; 300 |  | met |") {
		t.Errorf("not every webpush-go push arrived:\n%s", md)
	}
	for _, metric := range []string{"webpush-go v1.4.0, net/http HTTP/2 client: pushes per second", "webpush-go CPU per push (bench process)",
		"**webpush-go CPU / crieur CPU** per push, HTTP/2", "webpush-go connections opened / most streams on one / most requests in flight"} {
		if v := leadingNumber(md, "| "+metric+" | "); v <= 0 {
			t.Errorf("%s: %v, want > 0:\n%s", metric, v, md)
		}
	}
	if _, rest, _ := strings.Cut(md, "| webpush-go connections opened / most streams on one / most requests in flight | "); leadingNumber(rest, " / ") < 2 {
		t.Errorf("webpush-go's client sent no two requests on one connection (not HTTP/2?):\n%s", md)
	}
}
