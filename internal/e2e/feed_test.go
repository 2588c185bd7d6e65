package e2e_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// rssItem is one item of a test feed, published now.
func rssItem(title, link, category string) string {
	return fmt.Sprintf(`<item><title>%s</title><link>%s</link><guid>%s</guid><category>%s</category><pubDate>%s</pubDate><description>Summary.</description></item>`,
		title, link, link, category, time.Now().UTC().Format(time.RFC1123Z))
}

// rssDoc is a feed document: head (an XML declaration, a DOCTYPE), then
// the channel with items.
func rssDoc(head string, items ...string) string {
	return head + `<rss version="2.0"><channel><title>Feed</title><link>https://gazette.example/</link>` + strings.Join(items, "") + `</channel></rss>`
}

// billionLaughs is the classic entity bomb as a DTD's internal subset.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">`)
	for i := 1; i <= 9; i++ {
		prev := "lol"
		if i > 1 {
			prev = fmt.Sprintf("lol%d", i-1)
		}
		fmt.Fprintf(&b, `<!ENTITY lol%d "%s">`, i, strings.Repeat("&"+prev+";", 10))
	}
	b.WriteString("]>")
	return b.String()
}

// outbox reads the messages the daemon wrote as .eml files.
func outbox(t *testing.T, env e2etest.Env) []mailtest.Msg {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(env["CRIEUR_MAIL_OUTBOX"], "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []mailtest.Msg
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mailtest.Msg{Raw: raw})
	}
	return out
}

// TestHostileFeedRefused: a daemon polls a good feed, a billion-laughs feed
// (entities declared in its DTD) and a feed with an undefined entity in
// one item's title. The bomb feed is refused whole and the undefined
// entity's item dropped, both logged; the good articles are stored and
// reach the reader's digest, and nothing of the hostile items (their
// "&lol9;" titles, their links to the attacker's host) is stored or mailed.
func TestHostileFeedRefused(t *testing.T) {
	e2etest.Parallel(t)
	feeds := map[string]string{
		"/good.xml": rssDoc(`<?xml version="1.0"?>`, rssItem("Good news from Dakar", "https://gazette.example/good", "Afrique")),
		"/bomb.xml": rssDoc(billionLaughs(), rssItem("&lol9;", "https://attacker.example/bomb", "Afrique")),
		"/undefined.xml": rssDoc(`<?xml version="1.0"?>`,
			rssItem("&lol9;", "https://attacker.example/undefined", "Afrique"),
			rssItem("Second good story", "https://gazette.example/second", "Afrique")),
	}
	var polled [3]atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := feeds[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		polled[slices.Index([]string{"/good.xml", "/bomb.xml", "/undefined.xml"}, r.URL.Path)].Add(1)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, doc)
	}))
	defer srv.Close()
	f := flowSetup(t, map[string]string{
		"CRIEUR_FEEDS":               srv.URL + "/good.xml " + srv.URL + "/bomb.xml " + srv.URL + "/undefined.xml",
		"CRIEUR_FEEDS_ALLOW_PRIVATE": "true",
		"CRIEUR_FEED_INTERVAL":       "1s",
	}, "afrique")
	f.importCSV("readers.csv", []string{"reader@example.org,afrique,daily,en,confirmed"})
	p := f.start()
	defer f.logOnFailure(func() string { return "" })

	e2etest.WaitFor(t, 20*time.Second, "two polls of every feed", func() bool {
		return polled[0].Load() >= 2 && polled[1].Load() >= 2 && polled[2].Load() >= 2
	})
	urls := e2etest.Column(t, f.env, "SELECT url || ' ' || title FROM articles ORDER BY url")
	want := []string{"https://gazette.example/good Good news from Dakar", "https://gazette.example/second Second good story"}
	if !slices.Equal(urls, want) {
		t.Fatalf("stored articles %q, want %q", urls, want)
	}
	if errs := e2etest.Column(t, f.env, "SELECT last_error FROM feeds WHERE url LIKE '%/bomb.xml'"); len(errs) != 1 || !strings.Contains(errs[0], "internal subset") {
		t.Errorf("bomb feed's recorded error %q, want the DTD refusal", errs)
	}
	logs := p.Logs()
	if !strings.Contains(logs, "internal subset") || !strings.Contains(logs, "entity left unexpanded") {
		t.Errorf("refusals not logged:\n%s", e2etest.Tail(logs, 30))
	}

	run := f.waitRun(f.runDigest("daily"), 30*time.Second)
	if run.State != "done" || run.Sent != 1 {
		t.Fatalf("digest run %+v, want done with 1 sent", run)
	}
	var digest *mailtest.Msg
	msgs := outbox(t, f.env)
	for i, m := range msgs {
		if strings.Contains(m.Text(), "Good news from Dakar") {
			digest = &msgs[i]
		}
	}
	if digest == nil {
		t.Fatalf("no digest with the good article among %d emails", len(msgs))
	}
	for _, m := range msgs {
		for _, body := range []string{m.Text(), m.HTML(), string(m.Raw)} {
			if strings.Contains(body, "attacker.example") || strings.Contains(body, "lol9") {
				t.Fatalf("hostile item mailed:\n%s", body)
			}
		}
	}
	if !strings.Contains(digest.Text(), "Second good story") {
		t.Errorf("the second good article is not in the digest:\n%s", digest.Text())
	}
}

// TestFeedTopicAddedLater: an article polled before its category's topic
// exists joins the topic once an admin adds it, though its feed has not
// changed (it answered 304 to conditional GETs), and reaches the digest of
// the topic's reader.
func TestFeedTopicAddedLater(t *testing.T) {
	e2etest.Parallel(t)
	doc := rssDoc(`<?xml version="1.0"?>`, rssItem("Match report", "https://gazette.example/match", "Sport"))
	var full, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, doc)
	}))
	defer srv.Close()
	f := flowSetup(t, map[string]string{
		"CRIEUR_FEEDS":               srv.URL + "/feed.xml",
		"CRIEUR_FEEDS_ALLOW_PRIVATE": "true",
		"CRIEUR_FEED_INTERVAL":       "1s",
	}, "afrique")
	f.start()
	defer f.logOnFailure(func() string { return fmt.Sprintf("%d full fetches, %d answered 304", full.Load(), notModified.Load()) })
	e2etest.WaitFor(t, 20*time.Second, "the article stored and a 304", func() bool {
		return notModified.Load() > 0
	})
	const topics = "SELECT t.slug FROM article_topics a JOIN topics t ON t.id = a.topic_id"
	if got := e2etest.Column(t, f.env, topics); len(got) != 0 || e2etest.Count(t, f.env, "SELECT COUNT(*) FROM articles") != 1 {
		t.Fatalf("article topics before the topic exists: %q", got)
	}
	if st := f.do("POST", "/api/v1/topics", map[string]string{"slug": "sport", "name": "Sport"}, nil); st != 201 {
		t.Fatalf("POST topic: %d", st)
	}
	f.importCSV("readers.csv", []string{"fan@example.org,sport,daily,en,confirmed"})
	e2etest.WaitFor(t, 20*time.Second, "the article to join the new topic", func() bool {
		return slices.Equal(e2etest.Column(t, f.env, topics), []string{"sport"})
	})
	run := f.waitRun(f.runDigest("daily"), 30*time.Second)
	if run.State != "done" || run.Sent != 1 {
		t.Fatalf("digest run %+v, want done with 1 sent", run)
	}
	msgs := outbox(t, f.env)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text(), "Match report") {
		t.Fatalf("%d emails, want the fan's digest with the article", len(msgs))
	}
}
