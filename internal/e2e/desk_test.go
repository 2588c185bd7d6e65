package e2e_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// Every editor sees the dashboard and a digest run's page; neither shows
// them a feed's credentials nor the addresses of the readers a run
// failed to reach. Admins, who manage readers, see those addresses.
func TestDeskShowsEditorsNoFeedSecretNorReaderAddress(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t, mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
		if strings.HasPrefix(rcpt, "parti") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + rcpt + ">: no such user"}
		}
		return nil
	}))
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL(),
		"CRIEUR_FEEDS": "https://ed:s3cretpw@127.0.0.1:9/feed.xml?api_key=k3ykey"}, "afrique")
	f.importCSV("readers.csv", []string{"ana@example.org,afrique,daily,fr,confirmed", "parti.lecteur@example.org,afrique,daily,fr,confirmed"})
	p := f.start()
	art := map[string]any{"url": "https://journal.example/dakar", "title": "Élections au Sénégal", "summary": "", "topics": []string{"afrique"},
		"published_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}
	if st := f.do("POST", "/api/v1/articles", art, nil); st != 201 {
		t.Fatalf("POST article: %d", st)
	}
	var run struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		Failed int    `json:"failed"`
	}
	if st := f.do("POST", "/api/v1/digests/daily/run", nil, &run); st != 202 {
		t.Fatalf("run digest: %d", st)
	}
	e2etest.WaitFor(t, 30*time.Second, "the run to end with one failure", func() bool {
		f.do("GET", "/api/v1/digests/runs/"+run.ID, nil, &run)
		return run.State == "done" && run.Failed == 1
	})

	ed := login(t, p, "redaction@journal.example", "editor")
	_, dash := ed.get("/admin")
	if !strings.Contains(dash, "https://127.0.0.1:9/…") {
		t.Fatalf("the dashboard does not list the feed; the check below would prove nothing:\n%.4000s", dash)
	}
	for _, secret := range []string{"s3cretpw", "k3ykey"} {
		if strings.Contains(dash, secret) {
			t.Errorf("the editors' dashboard shows the feed's credential %q", secret)
		}
	}
	resp, page := ed.get("/admin/digests/runs/" + run.ID)
	if resp.StatusCode != 200 || !strings.Contains(page, "no such user") {
		t.Fatalf("the run page does not list the failure: %d\n%.4000s", resp.StatusCode, page)
	}
	if strings.Contains(page, "parti.lecteur") || strings.Contains(page, "@example.org") {
		t.Errorf("an editor sees a reader's address on the run page:\n%.4000s", page)
	}
	adm := login(t, p, "chef@journal.example", "admin")
	if _, page := adm.get("/admin/digests/runs/" + run.ID); !strings.Contains(page, "parti.lecteur@example.org") {
		t.Errorf("an admin does not see the address a run failed to reach:\n%.4000s", page)
	}
}

// Behind a proxy that serves crieur under a path (CRIEUR_BASE_URL
// https://journal.example/newsletter), the desk's cookies are set for the
// path the browser sees, so logging in works, whether the proxy takes
// /newsletter off the requests it passes on or not.
func TestDeskUnderBasePath(t *testing.T) {
	t.Parallel() // its subtests hold the CPU slots
	for name, strip := range map[string]bool{"proxy strips the path": true, "proxy passes the path on": false} {
		t.Run(name, func(t *testing.T) {
			e2etest.Parallel(t)
			deskUnderBasePath(t, strip)
		})
	}
}

func deskUnderBasePath(t *testing.T, strip bool) {
	var target *url.URL
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, ""
		if strip {
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/newsletter")
		}
	}})
	t.Cleanup(proxy.Close)
	f := flowSetup(t, map[string]string{"CRIEUR_BASE_URL": proxy.URL + "/newsletter"}, "afrique")
	p := f.start()
	target, _ = url.Parse(p.URL)
	e2etest.CLI(t, p.Env, "correct horse battery\n", "user", "add", "--email", "chef@journal.example", "--role", "admin")

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	d := &desk{t: t, p: &e2etest.Proc{URL: proxy.URL + "/newsletter", Env: p.Env}, c: c}
	resp, page := d.get("/admin/login")
	if resp.StatusCode != 200 {
		t.Fatalf("login page under /newsletter: %d", resp.StatusCode)
	}
	for _, ck := range resp.Cookies() {
		if ck.Path != "/newsletter/admin" {
			t.Errorf("cookie %s has Path=%s, want /newsletter/admin", ck.Name, ck.Path)
		}
	}
	resp, body := d.post(page, "/admin/login", url.Values{"email": {"chef@journal.example"}, "password": {"correct horse battery"}})
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/newsletter/admin" || !strings.Contains(body, "chef@journal.example") {
		t.Fatalf("login under /newsletter: %d at %s\n%.1000s", resp.StatusCode, resp.Request.URL, body)
	}
	if resp, body := d.get("/admin/digests?ui=en"); resp.StatusCode != 200 || !strings.Contains(body, `lang="en"`) {
		t.Errorf("a desk page after login: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if _, body := d.get("/admin/digests"); !strings.Contains(body, `<html lang="en">`) {
		t.Error("the desk's language cookie does not reach the desk under /newsletter")
	}
	// The reader routes answer under the path too.
	var topics []map[string]string
	if st := d.p.Do(t, "GET", "/api/v1/topics", "", nil, &topics); st != 200 || len(topics) != 1 {
		t.Errorf("GET /newsletter/api/v1/topics: %d %v", st, topics)
	}
}
