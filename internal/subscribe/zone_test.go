package subscribe_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/subscribe"
)

func TestZone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                               "",
		"  ":                             "",
		"Europe/Paris":                   "Europe/Paris",
		" America/Montreal ":             "America/Montreal",
		"Asia/Kathmandu":                 "Asia/Kathmandu",
		"Pacific/Noumea":                 "Pacific/Noumea",
		"UTC":                            "UTC",
		"Etc/GMT+5":                      "Etc/GMT+5",
		"America/Argentina/Buenos_Aires": "America/Argentina/Buenos_Aires",
	} {
		got, err := subscribe.Zone(in)
		if err != nil || got != want {
			t.Errorf("Zone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Mars/Olympus", "Local", "../../../etc/passwd", "/usr/share/zoneinfo/UTC", "Europe/", "Europe//Paris",
		"zone1970.tab", "Europe/Paris\x00", "Europe /Paris", "+05:30", strings.Repeat("A/", 40), "europe/paris\u202e"} {
		_, err := subscribe.Zone(in)
		var ne *news.Error
		if !errors.As(err, &ne) || ne.Code != news.CodeInvalid || !strings.Contains(ne.Message, "time zone") {
			t.Errorf("Zone(%q): %v, want invalid_input naming the time zone", in, err)
		}
	}
}

// FuzzZone: whatever a browser or a CSV cell sends, Zone either refuses
// it with invalid_input or returns a name that loads.
func FuzzZone(f *testing.F) {
	for _, s := range []string{"Europe/Paris", "Asia/Kolkata", "", "Local", "../x", "Etc/GMT-14", "America/Indiana/Knox", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := subscribe.Zone(in)
		if err != nil {
			var ne *news.Error
			if !errors.As(err, &ne) || ne.Code != news.CodeInvalid {
				t.Fatalf("Zone(%q): %v", in, err)
			}
			return
		}
		if got == "" {
			if strings.TrimSpace(in) != "" {
				t.Fatalf("Zone(%q) = empty", in)
			}
			return
		}
		if _, err := time.LoadLocation(got); err != nil || got == "Local" || len(got) > 64 {
			t.Fatalf("Zone(%q) = %q, which does not load: %v", in, got, err)
		}
	})
}
