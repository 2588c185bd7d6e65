package redact_test

import (
	"testing"

	"github.com/crieur/crieur/internal/redact"
)

func TestURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://journal.example/feed/", "https://journal.example/feed/"},
		{"http://feeduser:S3cretPW@host/bad.xml?api_key=K3YK3Y", "http://xxxxx@host/bad.xml?api_key=xxxxx"},
		{"https://T0K3N@host/feed", "https://xxxxx@host/feed"},
		{"https://host/feed?a=1&b=&K3YK3Y&c=%2F#S3CR3T", "https://host/feed?a=xxxxx&b=xxxxx&xxxxx&c=xxxxx#xxxxx"},
		{"https://host/feed?", "https://host/feed?"},
		// A database URL may carry its password as a parameter.
		{"mysql://app@db.example/crieur?password=S3cretPW&sslmode=require", "mysql://xxxxx@db.example/crieur?password=xxxxx&sslmode=xxxxx"},
		// What url.Parse refuses still loses its secrets.
		{"http://u:p@ho st/x?api_key=K3YK3Y", "http://xxxxx@ho st/x?xxxxx"},
		{"%zz?api_key=K3YK3Y", "%zz?xxxxx"},
		// Secrets in the path: matrix parameters and key-like segments.
		{"https://host/rss;jsessionid=SESS789/p", "https://host/rss;jsessionid=xxxxx/p"},
		{"https://host/a;x=1;FLAG;y=2/b", "https://host/a;x=xxxxx;xxxxx;y=xxxxx/b"},
		{"https://host/private/KEYINPATH0123456789abcdef/rss", "https://host/private/xxxxx/rss"},
		{"https://host/f/550e8400-e29b-41d4-a716-446655440000/feed.xml", "https://host/f/xxxxx/feed.xml"},
		{"https://host/u/aB3_dE5-fG7hI9jK1lM/rss", "https://host/u/xxxxx/rss"},
		// Slugs and short ids stay readable.
		{"https://host/category/covid-19-updates/feed", "https://host/category/covid-19-updates/feed"},
		{"https://host/2026-12-07-elections-au-senegal/feed/", "https://host/2026-12-07-elections-au-senegal/feed/"},
		{"https://host/feeds/rss2/abc123", "https://host/feeds/rss2/abc123"},
		{"https://host/feed/12345678901234567890", "https://host/feed/12345678901234567890"},
	}
	for _, tt := range tests {
		if got := redact.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := redact.URL(redact.URL(tt.in)); got != tt.want {
			t.Errorf("Redact twice (%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:pw@news.example:8443/u/secretkeyabcdefghij/rss?k=v": "https://news.example:8443/…",
		"http://127.0.0.1:9/p4ssw0rd-Z/feed":                              "http://127.0.0.1:9/…",
		"not a url":                                                       "…",
		"https://%zz":                                                     "…",
	} {
		if got := redact.Origin(in); got != want {
			t.Errorf("Origin(%q) = %q, want %q", in, got, want)
		}
	}
}
