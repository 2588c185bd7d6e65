package reader_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/reader"
	"github.com/crieur/crieur/templates"
)

// pagesTokenKey signs the links of the reader page tests.
var pagesTokenKey = bytes.Repeat([]byte{0x42}, 32)

// scriptTopic is a topic whose name must come out escaped.
const scriptTopic = `Culture <script>alert("x")</script>`

// pagesEnv is a running server over a real SQLite database.
type pagesEnv struct {
	st  *store.Store
	svc *subscribe.Service
	srv *httptest.Server
}

// setupPages starts the HTTP server over a fresh database holding three
// topics.
func setupPages(tb testing.TB) *pagesEnv {
	tb.Helper()
	ctx := context.Background()
	st := storetest.SQLite(tb)
	for _, t := range []struct{ slug, name string }{{"politique", "Politique"}, {"afrique", "Afrique"}, {"culture", scriptTopic}} {
		if _, err := st.CreateTopic(ctx, t.slug, t.name); err != nil {
			tb.Fatalf("create topic: %v", err)
		}
	}
	tokens, err := subscribe.NewTokens(pagesTokenKey, nil)
	if err != nil {
		tb.Fatalf("tokens: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	svc := subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: []byte("test hash key"),
		BaseURL: "https://crieur.example", Log: log})
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Journal", URL: "https://journal.example"})
	if err != nil {
		tb.Fatalf("composer: %v", err)
	}
	h, err := web.New(web.Deps{Store: st, Subscribe: svc, Composer: comp, Log: log, BaseURL: "https://crieur.example"})
	if err != nil {
		tb.Fatalf("web.New: %v", err)
	}
	reader.Register(h)
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return &pagesEnv{st: st, svc: svc, srv: srv}
}

// url turns a link crieur wrote (on its public base URL) into one on the
// test server.
func (e *pagesEnv) url(tb testing.TB, link string) string {
	tb.Helper()
	u, err := url.Parse(link)
	if err != nil {
		tb.Fatalf("parse link %q: %v", link, err)
	}
	return e.srv.URL + u.Path
}

// do sends a request and returns the answer with its body read.
func (e *pagesEnv) do(tb testing.TB, req *http.Request) (*http.Response, string) {
	tb.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// get fetches a URL of the test server.
func (e *pagesEnv) get(tb testing.TB, u string, hdr ...string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(tb, req)
}

// postForm posts a urlencoded form.
func (e *pagesEnv) postForm(tb testing.TB, u string, form url.Values) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(tb, req)
}

// subscriber returns the subscriber with email, failing the test when
// there is none.
func (e *pagesEnv) subscriber(tb testing.TB, email string) news.Subscriber {
	tb.Helper()
	sub, err := e.st.SubscriberByEmail(context.Background(), email)
	if err != nil {
		tb.Fatalf("subscriber %s: %v", email, err)
	}
	return sub
}

// confirmed creates a confirmed subscriber of politique and returns it.
func (e *pagesEnv) confirmed(tb testing.TB, email string) news.Subscriber {
	tb.Helper()
	ctx := context.Background()
	err := e.svc.Subscribe(ctx, subscribe.Request{Email: email, Topics: []string{"politique"}, Frequency: news.Daily,
		Lang: news.French, Client: "192.0.2.1"})
	if err != nil {
		tb.Fatalf("subscribe: %v", err)
	}
	sub := e.subscriber(tb, email)
	if _, err := e.svc.Confirm(ctx, path.Base(e.svc.LinksFor(sub).Confirm)); err != nil {
		tb.Fatalf("confirm: %v", err)
	}
	return e.subscriber(tb, email)
}

// mustContain fails when body lacks one of wants.
func mustContain(tb testing.TB, body string, wants ...string) {
	tb.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			tb.Errorf("page lacks %q", w)
		}
	}
}

// mustStatus fails when resp's status is not want.
func mustStatus(tb testing.TB, resp *http.Response, body string, want int) {
	tb.Helper()
	if resp.StatusCode != want {
		tb.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, want, body)
	}
}

func TestSubscribeFormLanguages(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	tests := []struct {
		name   string
		query  string
		accept string
		want   []string
	}{
		{"default French", "", "", []string{`<html lang="fr">`, "M’inscrire", "Rubriques", "Chaque semaine"}},
		{"query English", "?lang=en", "fr-FR,fr;q=0.9", []string{`<html lang="en">`, ">Subscribe<", "Topics", "Every week"}},
		{"Accept-Language English", "", "en-GB,en;q=0.9,fr;q=0.5", []string{`<html lang="en">`, ">Subscribe<"}},
		{"Accept-Language other", "", "de-DE", []string{`<html lang="fr">`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.get(t, e.srv.URL+"/subscribe"+tc.query, "Accept-Language", tc.accept)
			mustStatus(t, resp, body, 200)
			mustContain(t, body, tc.want...)
			if t.Failed() {
				t.Log(body)
			}
			mustContain(t, body,
				`type="email" id="email" name="email"`, `autocomplete="email"`, `<label class="label" for="email">`,
				`name="topics" value="politique"`, `name="topics" value="afrique"`, `name="topics" value="culture"`,
				">Politique<", ">Afrique<",
				`name="frequency" value="daily" checked`, `name="frequency" value="weekly"`,
				`name="lang" value="fr"`, `name="lang" value="en"`, `name="alerts"`,
				"<fieldset", "<legend>", `method="post"`)
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors *") {
				t.Errorf("CSP %q does not let publishers frame the form", csp)
			}
			if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
				t.Errorf("X-Frame-Options %q on the embeddable form", xfo)
			}
		})
	}
}

func TestSubscribeFormPreselectAndEmbed(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	_, body := e.get(t, e.srv.URL+"/subscribe?topics=afrique,culture&embed=1")
	mustContain(t, body, `value="afrique" checked`, `value="culture" checked`, `<body class="embed">`, `action="/subscribe?embed=1&amp;lang=fr"`)
	if strings.Contains(body, `value="politique" checked`) {
		t.Error("politique preselected")
	}
	if strings.Contains(body, `<header class="site-header">`) {
		t.Error("embed mode shows the site header")
	}
	_, body = e.get(t, e.srv.URL+"/subscribe")
	mustContain(t, body, `<header class="site-header">`, `href="https://journal.example"`)
}

func TestSubscribeEscapesTopicNames(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	_, body := e.get(t, e.srv.URL+"/subscribe")
	// The page's one script is its own, with the CSP nonce (it fills in
	// the browser's time zone).
	if strings.Contains(body, "<script>") || strings.Count(body, "<script") != 1 || !strings.Contains(body, `<script nonce="`) {
		t.Fatalf("topic name not escaped:\n%s", body)
	}
	mustContain(t, body, "Culture &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
}

func TestSubscribePost(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	ctx := context.Background()
	form := url.Values{"email": {"lecteur@example.org"}, "topics": {"afrique", "culture"}, "frequency": {"weekly"},
		"lang": {"en"}, "alerts": {"1"}}
	resp, body := e.postForm(t, e.srv.URL+"/subscribe?lang=fr", form)
	mustStatus(t, resp, body, 200)
	mustContain(t, body, "Vérifiez votre boîte de réception")

	sub := e.subscriber(t, "lecteur@example.org")
	if sub.Status != news.Pending || sub.Frequency != news.Weekly || sub.Lang != news.English || !sub.Alerts {
		t.Errorf("subscriber %+v", sub)
	}
	if got := slices.Sorted(slices.Values(sub.Topics)); !slices.Equal(got, []string{"afrique", "culture"}) {
		t.Errorf("topics %v", got)
	}
	hist, err := e.st.History(ctx, sub.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Kind != news.MailConfirm {
		t.Errorf("queued %+v, want one confirmation", hist)
	}

	// A known address gets the same answer: nothing leaks.
	e.confirmed(t, "deja@example.org")
	resp2, body2 := e.postForm(t, e.srv.URL+"/subscribe?lang=fr", url.Values{"email": {"deja@example.org"}})
	mustStatus(t, resp2, body2, 200)
	if body2 != body {
		t.Error("the answer for a confirmed address differs from the one for a new address")
	}
}

func TestSubscribePostInvalid(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	tests := []struct {
		name  string
		form  url.Values
		want  []string
		field string
	}{
		{"bad email", url.Values{"email": {"pas-une-adresse"}, "topics": {"afrique"}, "frequency": {"weekly"}},
			[]string{`value="pas-une-adresse"`, `aria-invalid="true"`, `href="#email"`, "Cette adresse email n’est pas valable.",
				`value="afrique" checked`, `value="weekly" checked`, "<title>Erreur : "}, "email"},
		{"no email", url.Values{"email": {""}}, []string{"Saisissez votre adresse email.", `href="#email"`}, "email"},
		{"bad frequency", url.Values{"email": {"a@example.org"}, "frequency": {"hourly"}},
			[]string{`value="a@example.org"`, `href="#frequency-daily"`, `id="frequency-error"`}, "frequency"},
		{"unknown topic", url.Values{"email": {"b@example.org"}, "topics": {"sport"}},
			[]string{"Une des rubriques choisies n’existe pas.", `href="#topic-afrique"`}, "topics"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.postForm(t, e.srv.URL+"/subscribe", tc.form)
			mustStatus(t, resp, body, 400)
			mustContain(t, body, tc.want...)
			if t.Failed() {
				t.Log(body)
			}
			mustContain(t, body, `class="error-summary" role="alert"`)
			if email := tc.form.Get("email"); email != "" {
				if _, err := e.st.SubscriberByEmail(context.Background(), email); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("a subscriber was created: %v", err)
				}
			}
		})
	}
}

func TestSubscribeRateLimited(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	form := url.Values{"email": {"insistant@example.org"}}
	var resp *http.Response
	var body string
	for range 4 {
		resp, body = e.postForm(t, e.srv.URL+"/subscribe", form)
	}
	mustStatus(t, resp, body, 429)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	mustContain(t, body, "Trop de demandes", `value="insistant@example.org"`)
}

func TestSubscribeBodyTooLarge(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	form := url.Values{"email": {"x@example.org"}, "pad": {strings.Repeat("a", 70<<10)}}
	resp, body := e.postForm(t, e.srv.URL+"/subscribe", form)
	mustStatus(t, resp, body, 413)
}

func TestConfirm(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	ctx := context.Background()
	if err := e.svc.Subscribe(ctx, subscribe.Request{Email: "nouveau@example.org", Lang: news.English, Client: "x"}); err != nil {
		t.Fatal(err)
	}
	sub := e.subscriber(t, "nouveau@example.org")
	links := e.svc.LinksFor(sub)
	confirm := e.url(t, links.Confirm)

	pending := func(t *testing.T) {
		t.Helper()
		if got := e.subscriber(t, "nouveau@example.org").Status; got != news.Pending {
			t.Fatalf("status %s, want pending", got)
		}
	}

	t.Run("forged", func(t *testing.T) {
		tok := []byte(path.Base(confirm))
		i := len(tok) / 2
		if tok[i] == 'A' {
			tok[i] = 'B'
		} else {
			tok[i] = 'A'
		}
		resp, body := e.get(t, e.srv.URL+"/confirm/"+string(tok))
		mustStatus(t, resp, body, 400)
		mustContain(t, body, "Lien de confirmation non valable")
		pending(t)
	})
	t.Run("wrong purpose", func(t *testing.T) {
		resp, body := e.get(t, e.srv.URL+"/confirm/"+path.Base(links.Unsubscribe))
		mustStatus(t, resp, body, 400)
		pending(t)
		resp, body = e.get(t, e.srv.URL+"/confirm/"+path.Base(links.Preferences))
		mustStatus(t, resp, body, 400)
		pending(t)
	})
	t.Run("expired", func(t *testing.T) {
		old, err := subscribe.NewTokens(pagesTokenKey, func() time.Time { return time.Now().Add(-8 * 24 * time.Hour) })
		if err != nil {
			t.Fatal(err)
		}
		resp, body := e.get(t, e.srv.URL+"/confirm/"+old.Sign(subscribe.PurposeConfirm, sub.ID, 0, subscribe.ConfirmTTL))
		mustStatus(t, resp, body, 410)
		mustContain(t, body, "Lien de confirmation expiré")
		pending(t)
	})
	t.Run("valid", func(t *testing.T) {
		// A GET, as mail scanners make, shows the form and changes nothing.
		resp, body := e.get(t, confirm)
		mustStatus(t, resp, body, 200)
		mustContain(t, body, `<html lang="en">`, `<form id="confirm-form" method="post" action="/confirm/`+path.Base(confirm)+`">`)
		pending(t)
		resp, body = e.postForm(t, confirm, nil)
		mustStatus(t, resp, body, 200)
		mustContain(t, body, `<html lang="en">`, "Subscription confirmed", `href="https://crieur.example/preferences/`)
		if got := e.subscriber(t, "nouveau@example.org").Status; got != news.Confirmed {
			t.Errorf("status %s, want confirmed", got)
		}
		if xfo := resp.Header.Get("X-Frame-Options"); xfo != "DENY" {
			t.Errorf("X-Frame-Options %q", xfo)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
		// Twice is harmless.
		resp, body = e.postForm(t, confirm, nil)
		mustStatus(t, resp, body, 200)
	})
}

func TestPreferences(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	sub := e.confirmed(t, "prefs@example.org")
	prefs := e.url(t, e.svc.LinksFor(sub).Preferences)

	resp, body := e.get(t, prefs)
	mustStatus(t, resp, body, 200)
	mustContain(t, body, `<html lang="fr">`, "Vos préférences", "prefs@example.org", `value="politique" checked`,
		`name="paused"`, "Se désabonner de tous les emails", "Télécharger mes données", "Effacer mes données",
		`action="/preferences/`+path.Base(prefs)+`/erase"`, `<meta name="robots" content="noindex, nofollow">`)
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", resp.Header)
	}

	_, body = e.get(t, prefs+"?lang=en")
	mustContain(t, body, `<html lang="en">`, "Your preferences")

	form := url.Values{"topics": {"afrique", "culture"}, "frequency": {"weekly"}, "lang": {"en"}, "paused": {"1"}}
	resp, body = e.postForm(t, prefs, form)
	mustStatus(t, resp, body, 200)
	mustContain(t, body, "Your preferences have been saved.", `value="afrique" checked`, `value="weekly" checked`)
	got := e.subscriber(t, "prefs@example.org")
	if ts := slices.Sorted(slices.Values(got.Topics)); !slices.Equal(ts, []string{"afrique", "culture"}) ||
		got.Frequency != news.Weekly || got.Lang != news.English || !got.Paused || got.Alerts {
		t.Errorf("after save: %+v", got)
	}

	resp, body = e.postForm(t, prefs, url.Values{"topics": {"sport"}})
	mustStatus(t, resp, body, 400)
	mustContain(t, body, "One of the chosen topics does not exist.")

	resp, body = e.get(t, e.srv.URL+"/preferences/"+path.Base(e.svc.LinksFor(sub).Unsubscribe))
	mustStatus(t, resp, body, 400)
}

func TestPreferencesUnsubscribe(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	sub := e.confirmed(t, "bye@example.org")
	prefs := e.url(t, e.svc.LinksFor(sub).Preferences)
	resp, body := e.postForm(t, prefs+"/unsubscribe", nil)
	mustStatus(t, resp, body, 200)
	mustContain(t, body, "Vous êtes désabonné")
	if got := e.subscriber(t, "bye@example.org").Status; got != news.Unsubscribed {
		t.Errorf("status %s", got)
	}
	_, body = e.get(t, prefs)
	mustContain(t, body, "vous ne recevez plus nos emails")
}

func TestDataDownload(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	sub := e.confirmed(t, "donnees@example.org")
	resp, body := e.get(t, e.url(t, e.svc.LinksFor(sub).Preferences)+"/data")
	mustStatus(t, resp, body, 200)
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="my-data.json"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var d struct {
		Email  string   `json:"email"`
		Status string   `json:"status"`
		Topics []string `json:"topics"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	if d.Email != "donnees@example.org" || d.Status != "confirmed" || !slices.Equal(d.Topics, []string{"politique"}) {
		t.Errorf("data %+v", d)
	}
}

func TestErase(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	ctx := context.Background()
	sub := e.confirmed(t, "oubli@example.org")
	erase := e.url(t, e.svc.LinksFor(sub).Preferences) + "/erase"

	resp, body := e.postForm(t, erase, nil)
	mustStatus(t, resp, body, 200)
	mustContain(t, body, "Effacer définitivement mes données\u00a0?", `name="confirm" value="yes"`)
	e.subscriber(t, "oubli@example.org") // still there

	resp, body = e.postForm(t, erase, url.Values{"confirm": {"yes"}})
	mustStatus(t, resp, body, 200)
	mustContain(t, body, "Données effacées")
	if _, err := e.st.SubscriberByID(ctx, sub.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("subscriber still there: %v", err)
	}
	if ok, err := e.st.Suppressed(ctx, e.svc.Hash("oubli@example.org")); err != nil || !ok {
		t.Errorf("address not suppressed: %v %v", ok, err)
	}

	// The old link now leads nowhere, and says so: gone for good.
	resp, body = e.get(t, strings.TrimSuffix(erase, "/erase"))
	mustStatus(t, resp, body, 410)
}

func TestUnsubscribePage(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	sub := e.confirmed(t, "scanner@example.org")
	unsub := e.url(t, e.svc.LinksFor(sub).Unsubscribe)

	for range 2 {
		resp, body := e.get(t, unsub)
		mustStatus(t, resp, body, 200)
		mustContain(t, body, `<form method="post" action="/unsubscribe/`+path.Base(unsub)+`">`, "Me désabonner",
			`<form method="post" action="/unsubscribe/`+path.Base(unsub)+`/link">`)
		if strings.Contains(body, "/preferences/") {
			t.Error("the unsubscribe page shows a preference link")
		}
		if strings.Contains(body, "List-Unsubscribe") {
			t.Error("the form posts the one-click field")
		}
	}
	if got := e.subscriber(t, "scanner@example.org").Status; got != news.Confirmed {
		t.Fatalf("a GET unsubscribed: status %s", got)
	}

	resp, body := e.postForm(t, unsub, nil)
	mustStatus(t, resp, body, 200)
	mustContain(t, body, "<!doctype html>", "Vous êtes désabonné", "vous ne recevrez plus nos emails")
	if strings.Contains(body, "page.unsubscribe") {
		t.Error("a raw string key shows")
	}
	if got := e.subscriber(t, "scanner@example.org").Status; got != news.Unsubscribed {
		t.Errorf("status %s, want unsubscribed", got)
	}

	resp, body = e.get(t, e.srv.URL+"/unsubscribe/"+path.Base(e.svc.LinksFor(sub).Preferences))
	mustStatus(t, resp, body, 400)
}

func TestOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	e := setupPages(t)

	t.Run("urlencoded", func(t *testing.T) {
		sub := e.confirmed(t, "oneclick1@example.org")
		resp, body := e.postForm(t, e.url(t, e.svc.LinksFor(sub).Unsubscribe), url.Values{"List-Unsubscribe": {"One-Click"}})
		mustStatus(t, resp, body, 200)
		if got := e.subscriber(t, "oneclick1@example.org").Status; got != news.Unsubscribed {
			t.Errorf("status %s", got)
		}
	})
	t.Run("multipart", func(t *testing.T) {
		sub := e.confirmed(t, "oneclick2@example.org")
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("List-Unsubscribe", "One-Click")
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, e.url(t, e.svc.LinksFor(sub).Unsubscribe), &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, body := e.do(t, req)
		mustStatus(t, resp, body, 200)
		if got := e.subscriber(t, "oneclick2@example.org").Status; got != news.Unsubscribed {
			t.Errorf("status %s", got)
		}
	})
	t.Run("forged", func(t *testing.T) {
		sub := e.confirmed(t, "oneclick3@example.org")
		link := e.url(t, e.svc.LinksFor(sub).Unsubscribe)
		resp, body := e.postForm(t, link[:len(link)-2]+"xx", url.Values{"List-Unsubscribe": {"One-Click"}})
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			t.Errorf("status %d, want 4xx", resp.StatusCode)
		}
		_ = body
		if got := e.subscriber(t, "oneclick3@example.org").Status; got != news.Confirmed {
			t.Errorf("status %s", got)
		}
	})
}

// forge changes one character in the middle of a link's token.
func forge(link string) string {
	b := []byte(link)
	i := len(link) - len(path.Base(link))/2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestOneClickUnsubscribeErased(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	ctx := context.Background()
	sub := e.confirmed(t, "efface@example.org")
	links := e.svc.LinksFor(sub)
	unsub := e.url(t, links.Unsubscribe)
	if err := e.svc.Erase(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	oneClick := url.Values{"List-Unsubscribe": {"One-Click"}}

	// A mailbox provider gets 200, every time: the reader gets no email.
	for range 2 {
		resp, body := e.postForm(t, unsub, oneClick)
		mustStatus(t, resp, body, 200)
	}
	// The button of an unsubscribe page opened before the erasure.
	resp, body := e.postForm(t, unsub, nil)
	mustStatus(t, resp, body, 200)
	mustContain(t, body, "Vous êtes désabonné")
	// The page says the same, with no button left to press.
	resp, body = e.get(t, unsub, "Accept-Language", "en")
	mustStatus(t, resp, body, 200)
	mustContain(t, body, `<html lang="en">`, "You are unsubscribed", "Subscribe again")
	if strings.Contains(body, "<form") {
		t.Error("the page of an erased reader offers a form")
	}

	// Forged and wrong-purpose links still get a 4xx.
	for name, link := range map[string]string{
		"forged":      forge(unsub),
		"preferences": e.srv.URL + "/unsubscribe/" + path.Base(links.Preferences),
		"confirm":     e.srv.URL + "/unsubscribe/" + path.Base(links.Confirm),
	} {
		resp, body := e.postForm(t, link, oneClick)
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			t.Errorf("%s one-click: %d, want 4xx", name, resp.StatusCode)
		}
		resp, body = e.get(t, link)
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			t.Errorf("%s page: %d, want 4xx\n%s", name, resp.StatusCode, body)
		}
	}
	if _, err := e.st.SubscriberByID(ctx, sub.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the erased subscriber is back: %v", err)
	}
}

// TestHeadChangesNothing checks that the links a reader gets by email can
// be probed with HEAD, as mail scanners do, without effect: the answer
// GET would give, without a body.
func TestHeadChangesNothing(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	ctx := context.Background()
	if err := e.svc.Subscribe(ctx, subscribe.Request{Email: "sonde@example.org", Lang: news.English, Client: "x"}); err != nil {
		t.Fatal(err)
	}
	sub := e.subscriber(t, "sonde@example.org")
	links := e.svc.LinksFor(sub)
	head := func(t *testing.T, u string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodHead, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := e.do(t, req)
		if body != "" {
			t.Errorf("HEAD %s answered a body", req.URL.Path)
		}
		return resp
	}
	status := func(t *testing.T, want news.Status) {
		t.Helper()
		if got := e.subscriber(t, "sonde@example.org").Status; got != want {
			t.Fatalf("status %s, want %s", got, want)
		}
	}
	sameHeaders := func(t *testing.T, h, g *http.Response) {
		t.Helper()
		if h.StatusCode != g.StatusCode {
			t.Errorf("HEAD %d, GET %d", h.StatusCode, g.StatusCode)
		}
		// A page's script nonce is new in every answer.
		nonce := regexp.MustCompile(`'nonce-[^']*'`)
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Security-Policy", "X-Frame-Options", "Cache-Control", "Content-Disposition"} {
			if nonce.ReplaceAllString(h.Header.Get(k), "") != nonce.ReplaceAllString(g.Header.Get(k), "") {
				t.Errorf("%s: HEAD %q, GET %q", k, h.Header.Get(k), g.Header.Get(k))
			}
		}
	}

	confirm := e.url(t, links.Confirm)
	for range 2 {
		mustStatus(t, head(t, confirm), "", 200)
		status(t, news.Pending)
	}
	mustStatus(t, head(t, forge(confirm)), "", 400)
	status(t, news.Pending)
	h := head(t, confirm)
	g, body := e.get(t, confirm) // a GET changes nothing either
	mustStatus(t, g, body, 200)
	status(t, news.Pending)
	sameHeaders(t, h, g)
	resp, body := e.postForm(t, confirm, nil) // the page's form
	mustStatus(t, resp, body, 200)
	status(t, news.Confirmed)

	for _, link := range []string{links.Unsubscribe, links.Preferences, links.Preferences + "/data"} {
		u := e.url(t, link)
		h := head(t, u)
		mustStatus(t, h, "", 200)
		status(t, news.Confirmed)
		g, _ := e.get(t, u)
		sameHeaders(t, h, g)
		status(t, news.Confirmed)
	}

	// Once unsubscribed, the old confirmation link neither works nor
	// undoes the unsubscribe, probed or followed.
	resp, body = e.postForm(t, e.url(t, links.Unsubscribe), nil)
	mustStatus(t, resp, body, 200)
	h = head(t, confirm)
	mustStatus(t, h, "", 410)
	status(t, news.Unsubscribed)
	g, _ = e.get(t, confirm)
	sameHeaders(t, h, g)
	status(t, news.Unsubscribed)
	resp, body = e.postForm(t, confirm, nil)
	mustStatus(t, resp, body, 410)
	status(t, news.Unsubscribed)
}

// TestSubscribeTopicsCollated: readers see topics in dictionary order,
// accents and case ignored ("Économie" between "Culture" and "Politique").
func TestSubscribeTopicsCollated(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	if _, err := e.st.CreateTopic(context.Background(), "economie", "Économie"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/subscribe", nil)
	resp, page := e.do(t, req)
	mustStatus(t, resp, page, 200)
	last := -1
	for _, slug := range []string{"afrique", "economie", "politique"} {
		i := strings.Index(page, `value="`+slug+`"`)
		if i < 0 || i < last {
			t.Errorf("%s missing or out of order in the subscribe form", slug)
		}
		last = i
	}
}
