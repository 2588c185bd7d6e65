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
