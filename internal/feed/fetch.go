package feed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// Defaults used when a Fetcher field is zero.
const (
	DefaultMaxBytes  = 10 << 20
	DefaultTimeout   = 30 * time.Second
	DefaultUserAgent = "crieur (+https://github.com/crieur/crieur)"
)

// Fetcher downloads feeds with conditional GET. The zero value works; it is
// safe for concurrent use when Client is.
type Fetcher struct {
	// Client sends the requests; nil means http.DefaultClient. In the daemon
	// it is an SSRF-guarded client.
	Client *http.Client
	// MaxBytes caps the (decompressed) body; 0 means DefaultMaxBytes.
	MaxBytes int64
	// UserAgent is sent with every request; "" means DefaultUserAgent.
	UserAgent string
	// Timeout bounds one request, body included; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Result is the outcome of one successful fetch.
type Result struct {
	// NotModified is true when the server answered 304; Items is then empty.
	NotModified bool
	Items       []Item
	// Skipped counts the items of the feed left out of Items because it
	// held more than Parse reads (the oldest ones).
	Skipped int
	// Refused counts the items left out because their text held an entity
	// left unexpanded (an undefined one, as a hostile feed writes).
	Refused int
	// ETag and LastModified are the validators to send next time (the old
	// ones when the server sent none).
	ETag         string
	LastModified string
}

// StatusError is returned when the server answers neither 2xx nor 304.
type StatusError struct {
	StatusCode int
	Status     string // as sent, e.g. "404 Not Found"
}

// Error names the status.
func (e *StatusError) Error() string {
	return "feed server answered " + e.Status
}

// Fetch GETs the feed at rawURL, sending st's ETag and Last-Modified as
// validators, and parses it. A 304 gives Result{NotModified: true}; any other
// non-2xx status is a *StatusError. When the document declares no encoding,
// a charset in the Content-Type header is honoured. Error messages show
// URLs redacted (see redact.URL).
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, st State) (Result, error) {
	res, err := f.fetch(ctx, rawURL, st)
	// Whatever else names an absolute URL (a wrapped error from the
	// client's redirect policy, say) is redacted too.
	return res, redactError(err)
}

func (f *Fetcher) fetch(ctx context.Context, rawURL string, st State) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Result{}, fmt.Errorf("fetch feed: %w", redactURLError(err))
	}
	req.Header.Set("User-Agent", f.userAgent())
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
	if st.ETag != "" {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("fetch feed: %w", redactURLError(err))
	}
	defer resp.Body.Close()

	res := Result{
		ETag:         firstNonEmpty(resp.Header.Get("ETag"), st.ETag),
		LastModified: firstNonEmpty(resp.Header.Get("Last-Modified"), st.LastModified),
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		res.NotModified = true
		return res, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return Result{}, fmt.Errorf("fetch feed: %w", &StatusError{StatusCode: resp.StatusCode, Status: resp.Status})
	}
	data, err := readLimited(resp.Body, f.maxBytes())
	if err != nil {
		return Result{}, fmt.Errorf("fetch feed: %w", err)
	}
	data, err = decodeHeaderCharset(data, resp.Header.Get("Content-Type"))
	if err != nil {
		return Result{}, fmt.Errorf("fetch feed: %w", err)
	}
	var base *url.URL
	if resp.Request != nil {
		base = resp.Request.URL // after redirects
	}
	p, err := parseBytes(data, base)
	if err != nil {
		return Result{}, fmt.Errorf("fetch feed: %w", err)
	}
	res.Items, res.Skipped, res.Refused = p.items, p.skipped, p.refused
	return res, nil
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

func (f *Fetcher) maxBytes() int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return DefaultMaxBytes
}

func (f *Fetcher) userAgent() string {
	if f.UserAgent != "" {
		return f.UserAgent
	}
	return DefaultUserAgent
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// xmlDeclEncoding finds an encoding pseudo-attribute in an XML declaration.
var xmlDeclEncoding = regexp.MustCompile(`^<\?xml[^>]*\sencoding\s*=`)

// decodeHeaderCharset converts data to UTF-8 from the charset named in the
// Content-Type header, when there is one other than UTF-8 and the document
// itself declares no encoding (an in-document declaration is handled by the
// XML parser and wins, as most feed readers do) and data is not already valid
// UTF-8 (servers often label UTF-8 feeds ISO-8859-1 by default).
func decodeHeaderCharset(data []byte, contentType string) ([]byte, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return data, nil
	}
	label := strings.ToLower(strings.TrimSpace(params["charset"]))
	if label == "" || label == "utf-8" || label == "utf8" || label == "us-ascii" {
		return data, nil
	}
	if utf8.Valid(data) {
		return data, nil
	}
	head := bytes.TrimLeft(data[:min(len(data), 512)], "\ufeff \t\r\n")
	if xmlDeclEncoding.Match(head) {
		return data, nil
	}
	r, err := charset.NewReaderLabel(label, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("charset %q: %w", label, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("charset %q: %w", label, err)
	}
	return out, nil
}
