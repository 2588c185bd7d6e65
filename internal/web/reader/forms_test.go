package reader_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/news"
)

// multipartBody is a multipart/form-data body with fields and, when pad
// is not zero, a file part of pad bytes.
func multipartBody(tb testing.TB, fields map[string]string, pad int) (string, *bytes.Buffer) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if pad > 0 {
		fw, _ := mw.CreateFormFile("pad", "pad.bin")
		fw.Write(bytes.Repeat([]byte{'a'}, pad))
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

// TestReaderFormsSmall: the reader pages' forms take urlencoded bodies of
// at most 16 KiB (413 beyond) and refuse multipart (415), and nothing
// changes; one-click unsubscribe (RFC 8058) still takes a small
// multipart body, and refuses a large one.
func TestReaderFormsSmall(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	sub := e.confirmed(t, "petite@example.org")
	links := e.svc.LinksFor(sub)
	big := strings.Repeat("a", 17<<10)
	for _, target := range []string{
		e.srv.URL + "/subscribe",
		e.url(t, links.Preferences),
		e.url(t, links.Preferences) + "/erase",
	} {
		fields := url.Values{"email": {"autre@example.org"}, "topics": {"politique"}, "frequency": {"weekly"}, "confirm": {"yes"}}
		withPad := url.Values{"pad": {big}}
		for k, v := range fields {
			withPad[k] = v
		}
		resp, body := e.postForm(t, target, withPad)
		mustStatus(t, resp, body, 413)

		ctype, mbody := multipartBody(t, map[string]string{"email": "autre@example.org", "frequency": "weekly", "confirm": "yes"}, 0)
		req, _ := http.NewRequest(http.MethodPost, target, mbody)
		req.Header.Set("Content-Type", ctype)
		resp, body = e.do(t, req)
		mustStatus(t, resp, body, 415)
	}
	got := e.subscriber(t, "petite@example.org")
	if got.Status != news.Confirmed || got.Frequency != news.Daily {
		t.Errorf("a refused form changed the reader: %+v", got)
	}
	if _, err := e.st.SubscriberByEmail(t.Context(), "autre@example.org"); err == nil {
		t.Error("a refused form subscribed someone")
	}

	// One-click: too large is refused and unsubscribes nobody...
	oneClick := e.url(t, links.Unsubscribe)
	ctype, mbody := multipartBody(t, map[string]string{"List-Unsubscribe": "One-Click"}, 17<<10)
	req, _ := http.NewRequest(http.MethodPost, oneClick, mbody)
	req.Header.Set("Content-Type", ctype)
	resp, body := e.do(t, req)
	mustStatus(t, resp, body, 413)
	if got := e.subscriber(t, "petite@example.org").Status; got != news.Confirmed {
		t.Fatalf("a refused one-click body unsubscribed the reader: %s", got)
	}
	// ...a small multipart one works.
	ctype, mbody = multipartBody(t, map[string]string{"List-Unsubscribe": "One-Click"}, 0)
	req, _ = http.NewRequest(http.MethodPost, oneClick, mbody)
	req.Header.Set("Content-Type", ctype)
	resp, body = e.do(t, req)
	mustStatus(t, resp, body, 200)
	if got := e.subscriber(t, "petite@example.org").Status; got != news.Unsubscribed {
		t.Errorf("one-click multipart: %s", got)
	}
}
