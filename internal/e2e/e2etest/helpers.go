package e2etest

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/web/apicheck"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// OpenDB opens the database a daemon with env uses, to read what it
// recorded (also while it is down, after a kill).
func OpenDB(tb testing.TB, env Env) *sql.DB {
	tb.Helper()
	dsn := env["CRIEUR_DATABASE_URL"]
	var db *sql.DB
	var err error
	if strings.HasPrefix(dsn, "postgres") {
		db, err = sql.Open("pgx", dsn)
	} else {
		db, err = sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// Count runs a query returning one integer on the daemon's database.
func Count(tb testing.TB, env Env, query string) int {
	tb.Helper()
	db := OpenDB(tb, env)
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// Column runs a query returning one text column on the daemon's database.
func Column(tb testing.TB, env Env, query string) []string {
	tb.Helper()
	db := OpenDB(tb, env)
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Overlap counts the items of b that occur in a.
func Overlap(a, b []string) int {
	set := make(map[string]bool, len(a))
	for _, x := range a {
		set[x] = true
	}
	n := 0
	for _, x := range b {
		if set[x] {
			n++
		}
	}
	return n
}

// Settle waits until count stops changing for 200 ms (messages that were
// inside a sink when their sender died are still being counted) and
// returns the last count.
func Settle(count func() int) int {
	last := count()
	for stable := 0; stable < 4; {
		time.Sleep(50 * time.Millisecond)
		if c := count(); c == last {
			stable++
		} else {
			stable, last = 0, c
		}
	}
	return last
}

// Tail is the end of a long log.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// SubscribePush registers push endpoints, all with the same browser keys,
// through the daemon's public API, a few requests at a time, as the
// publisher's backend does with its API token (browsers are limited per
// address); every one must answer 201, as the OpenAPI document describes.
func SubscribePush(tb testing.TB, p *Proc, token, p256dh, auth string, endpoints, topics []string) {
	tb.Helper()
	chk := p.OpenAPI(tb)
	var wg sync.WaitGroup
	errs := make(chan string, len(endpoints))
	next := make(chan string)
	for range 4 {
		wg.Go(func() {
			client := HTTPClient()
			for ep := range next {
				raw, _ := json.Marshal(map[string]any{"subscription": map[string]any{"endpoint": ep,
					"keys": map[string]string{"p256dh": p256dh, "auth": auth}}, "topics": topics, "lang": "fr"})
				req, err := http.NewRequest("POST", p.URL+"/api/v1/push/subscriptions", bytes.NewReader(raw))
				if err != nil {
					errs <- err.Error()
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					errs <- fmt.Sprintf("%s: %v", ep, err)
					continue
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err := chk.Check(apicheck.Exchange{Request: req, RequestBody: raw, Status: resp.StatusCode, Header: resp.Header, Body: answer}); err != nil {
					errs <- "OpenAPI: " + err.Error()
					continue
				}
				if resp.StatusCode != 201 {
					errs <- fmt.Sprintf("%s: %d", ep, resp.StatusCode)
				}
			}
		})
	}
	for _, ep := range endpoints {
		next <- ep
	}
	close(next)
	wg.Wait()
	close(errs)
	if n := len(errs); n > 0 {
		tb.Fatalf("push subscribe: %d failed, first: %s", n, <-errs)
	}
}

// PushClaimed returns the endpoints of the push messages claimed and not
// yet recorded: queued rows being sent, and the browsers of claimed
// windows not yet handled (migration 0008).
func PushClaimed(tb testing.TB, env Env) []string {
	tb.Helper()
	db := OpenDB(tb, env)
	defer db.Close()
	eps := Column(tb, env, "SELECT s.endpoint FROM push_deliveries d JOIN push_subscriptions s ON s.id = d.subscription_id WHERE d.state = 'sending'")
	return append(eps, Endpoints(tb, db, WindowSubs(tb, db, "state = 'sending'", true))...)
}

// WindowSubs returns the subscription ids of the push windows matching
// where (SQL), only those not yet handled when unhandled is set.
func WindowSubs(tb testing.TB, db *sql.DB, where string, unhandled bool) []int64 {
	tb.Helper()
	rows, err := db.Query("SELECT subs, done FROM push_windows WHERE " + where)
	if err != nil {
		tb.Fatalf("push windows: %v", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var subs, done string
		if err := rows.Scan(&subs, &done); err != nil {
			tb.Fatal(err)
		}
		handled := map[string]bool{}
		if unhandled {
			for _, s := range strings.Split(done, ",") {
				handled[s] = true
			}
		}
		for _, s := range strings.Split(subs, ",") {
			var id int64
			if _, err := fmt.Sscan(s, &id); err != nil {
				tb.Fatalf("push window subs %q: %v", subs, err)
			}
			if !handled[s] {
				out = append(out, id)
			}
		}
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Endpoints maps push subscription ids to their endpoints (ids deleted
// since are left out).
func Endpoints(tb testing.TB, db *sql.DB, ids []int64) []string {
	tb.Helper()
	if len(ids) == 0 {
		return nil
	}
	rows, err := db.Query("SELECT id, endpoint FROM push_subscriptions")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	byID := map[int64]string{}
	for rows.Next() {
		var id int64
		var ep string
		if err := rows.Scan(&id, &ep); err != nil {
			tb.Fatal(err)
		}
		byID[id] = ep
	}
	var out []string
	for _, id := range ids {
		if ep, ok := byID[id]; ok {
			out = append(out, ep)
		}
	}
	return out
}
