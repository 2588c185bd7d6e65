package feed_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/feed"
)

// feedServer serves body with validators, answering 304 to a request that
// carries them. It counts requests and records the last request's headers.
type feedServer struct {
	*httptest.Server
	requests chan http.Header
}

func newFeedServer(t *testing.T, body []byte, etag, lastModified string) *feedServer {
	t.Helper()
	fs := &feedServer{requests: make(chan http.Header, 100)}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.requests <- r.Header.Clone()
		if (etag != "" && r.Header.Get("If-None-Match") == etag) ||
			(lastModified != "" && r.Header.Get("If-Modified-Since") == lastModified) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		if lastModified != "" {
			w.Header().Set("Last-Modified", lastModified)
		}
		w.Header().Set("Content-Type", "application/rss+xml; charset=UTF-8")
		_, _ = w.Write(body)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchConditional(t *testing.T) {
	t.Parallel()
	const etag, lm = `"wp-48213"`, "Tue, 10 Mar 2026 09:12:44 GMT"
	srv := newFeedServer(t, readTestdata(t, "wordpress-fr.xml"), etag, lm)
	f := &feed.Fetcher{Client: srv.Client(), UserAgent: "crieur-test"}
	ctx := context.Background()

	res, err := f.Fetch(ctx, srv.URL+"/feed/", feed.State{})
	if err != nil {
		t.Fatal(err)
	}
	if res.NotModified || len(res.Items) != 7 || res.ETag != etag || res.LastModified != lm {
		t.Fatalf("first fetch: NotModified=%v items=%d etag=%q lm=%q", res.NotModified, len(res.Items), res.ETag, res.LastModified)
	}
	h := <-srv.requests
	if h.Get("User-Agent") != "crieur-test" || h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" {
		t.Errorf("first request headers: %v", h)
	}

	res, err = f.Fetch(ctx, srv.URL+"/feed/", feed.State{ETag: res.ETag, LastModified: res.LastModified})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NotModified || len(res.Items) != 0 || res.ETag != etag || res.LastModified != lm {
		t.Fatalf("second fetch: %+v", res)
	}
	h = <-srv.requests
	if h.Get("If-None-Match") != etag || h.Get("If-Modified-Since") != lm {
		t.Errorf("validators not sent: %v", h)
	}
}

func TestFetchLastModifiedOnly(t *testing.T) {
	t.Parallel()
	const lm = "Tue, 10 Mar 2026 09:12:44 GMT"
	srv := newFeedServer(t, readTestdata(t, "atom.xml"), "", lm)
	f := &feed.Fetcher{Client: srv.Client()}
	res, err := f.Fetch(context.Background(), srv.URL, feed.State{LastModified: lm})
	if err != nil || !res.NotModified || res.LastModified != lm {
		t.Fatalf("got %+v, %v", res, err)
	}
	if h := <-srv.requests; !strings.HasPrefix(h.Get("User-Agent"), "crieur") {
		t.Errorf("default User-Agent: %q", h.Get("User-Agent"))
	}
}

func TestFetchErrors(t *testing.T) {
	t.Parallel()
	wp := readTestdata(t, "wordpress-fr.xml")
	tests := []struct {
		name    string
		handler http.HandlerFunc
		fetcher feed.Fetcher
		check   func(error) bool
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, feed.Fetcher{},
			func(err error) bool {
				var se *feed.StatusError
				return errors.As(err, &se) && se.StatusCode == 404 && strings.Contains(err.Error(), "404 Not Found")
			}},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, feed.Fetcher{},
			func(err error) bool { return strings.Contains(err.Error(), "503") }},
		{"too large", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(wp) }, feed.Fetcher{MaxBytes: 1000},
			func(err error) bool { return errors.Is(err, feed.ErrTooLarge) }},
		{"html page", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html><body>Maintenance</body></html>"))
		}, feed.Fetcher{},
			func(err error) bool { return errors.Is(err, feed.ErrUnsupported) }},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, feed.Fetcher{Timeout: 50 * time.Millisecond},
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"slow body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(wp[:100])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, feed.Fetcher{Timeout: 50 * time.Millisecond},
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			f := tt.fetcher
			f.Client = srv.Client()
			_, err := f.Fetch(context.Background(), srv.URL, feed.State{})
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestFetchHeaderCharset(t *testing.T) {
	t.Parallel()
	// No XML declaration: the Content-Type charset is the only hint.
	latin1 := "<rss version=\"2.0\"><channel><item><title>\xc9conomie</title><link>https://a.example/1</link></item></channel></rss>"
	utf8Doc := "<rss version=\"2.0\"><channel><item><title>Économie</title><link>https://a.example/1</link></item></channel></rss>"
	for _, body := range []string{latin1, utf8Doc} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml; charset=ISO-8859-1")
			_, _ = w.Write([]byte(body))
		}))
		res, err := (&feed.Fetcher{Client: srv.Client()}).Fetch(context.Background(), srv.URL, feed.State{})
		srv.Close()
		if err != nil || len(res.Items) != 1 || res.Items[0].Title != "Économie" {
			t.Errorf("got %+v, %v", res, err)
		}
	}
}

func TestFetchRelativeToRequest(t *testing.T) {
	t.Parallel()
	// No channel link: relative item links resolve against the feed URL.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<rss version="2.0"><channel><item><title>x</title><link>/2026/a</link></item></channel></rss>`))
	}))
	t.Cleanup(srv.Close)
	res, err := (&feed.Fetcher{Client: srv.Client()}).Fetch(context.Background(), srv.URL+"/feed/", feed.State{})
	if err != nil || len(res.Items) != 1 || res.Items[0].URL != srv.URL+"/2026/a" {
		t.Fatalf("got %+v, %v", res, err)
	}
}
