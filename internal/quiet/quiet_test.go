package quiet_test

import (
	"testing"
	"time"

	"github.com/crieur/crieur/internal/quiet"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := quiet.Zone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestZone(t *testing.T) {
	for _, ok := range []string{"Europe/Paris", "Africa/Dakar", "America/Montreal", "Pacific/Noumea", "Asia/Kathmandu", "UTC"} {
		if _, err := quiet.Zone(ok); err != nil {
			t.Errorf("Zone(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Local", "Europe/Pariss", "../../etc/passwd", "/etc/localtime", "Mars/Olympus", "Europe/Paris "} {
		if _, err := quiet.Zone(bad); err == nil {
			t.Errorf("Zone(%q) accepted", bad)
		}
	}
	paris := mustZone(t, "Europe/Paris")
	if quiet.ZoneOr("", paris) != paris || quiet.ZoneOr("No/Where", paris) != paris || quiet.ZoneOr("UTC", paris) == paris {
		t.Error("ZoneOr does not fall back to the default for an empty or unknown name only")
	}
}

func TestParseHours(t *testing.T) {
	h, err := quiet.ParseHours("22:00", "07:00")
	if err != nil || h != (quiet.Hours{From: 22 * 60, To: 7 * 60}) || !h.Set() {
		t.Fatalf("ParseHours(22:00, 07:00) = %+v, %v", h, err)
	}
	for _, bad := range [][2]string{{"22:00", "22:00"}, {"24:00", "07:00"}, {"7:00", "08:00"}, {"22:60", "07:00"}, {"22h00", "07:00"}, {"", "07:00"}, {"22:00", "+7:00"}} {
		if _, err := quiet.ParseHours(bad[0], bad[1]); err == nil {
			t.Errorf("ParseHours(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if quiet.Clock(7*60+5) != "07:05" {
		t.Error(quiet.Clock(7*60 + 5))
	}
}

// TestQuietExamples: the cases a reader would check by hand, with the
// clock given.
func TestQuietExamples(t *testing.T) {
	night := quiet.Hours{From: 22 * 60, To: 7 * 60}
	for _, c := range []struct {
		zone, at string // at: the local time
		h        quiet.Hours
		in       bool
		end      string // local end, when in
	}{
		{"Europe/Paris", "2026-12-07T23:00", night, true, "2026-12-08T07:00"},
		{"Europe/Paris", "2026-12-08T06:59", night, true, "2026-12-08T07:00"},
		{"Europe/Paris", "2026-12-08T07:00", night, false, ""},
		{"Europe/Paris", "2026-12-07T21:59", night, false, ""},
		{"Europe/Paris", "2026-12-07T22:00", night, true, "2026-12-08T07:00"},
		// 30- and 45-minute zones.
		{"Asia/Kolkata", "2026-12-08T02:15", night, true, "2026-12-08T07:00"},
		{"Asia/Kathmandu", "2026-12-08T06:50", night, true, "2026-12-08T07:00"},
		{"Asia/Kathmandu", "2026-12-08T07:10", night, false, ""},
		// A daytime window.
		{"Africa/Dakar", "2026-12-08T14:00", quiet.Hours{From: 13 * 60, To: 15 * 60}, true, "2026-12-08T15:00"},
		{"Africa/Dakar", "2026-12-08T16:00", quiet.Hours{From: 13 * 60, To: 15 * 60}, false, ""},
		// Spring forward in Paris (2026-03-29, 02:00 → 03:00): a night
		// ending at 02:30 ends when the clock jumps, at 03:00.
		{"Europe/Paris", "2026-03-29T01:50", quiet.Hours{From: 22 * 60, To: 2*60 + 30}, true, "2026-03-29T03:00"},
		// Fall back in Paris (2026-10-25, 03:00 → 02:00): the night ends
		// at the first 02:30; the second 02:30 is no new night.
		{"America/New_York", "2026-11-01T00:30", quiet.Hours{From: 22 * 60, To: 1*60 + 30}, true, "2026-11-01T01:30"},
	} {
		loc := mustZone(t, c.zone)
		at, err := time.ParseInLocation("2006-01-02T15:04", c.at, loc)
		if err != nil {
			t.Fatal(err)
		}
		end, in := c.h.Quiet(at, loc)
		if in != c.in {
			t.Errorf("%s %s %+v: in=%v, want %v", c.zone, c.at, c.h, in, c.in)
			continue
		}
		if in {
			if got := end.In(loc).Format("2006-01-02T15:04"); got != c.end {
				t.Errorf("%s %s: quiet until %s, want %s", c.zone, c.at, got, c.end)
			}
		}
	}
	// New York's night ending at 01:30 on the fall-back day: at the first
	// 01:30 (EDT) quiet hours end and the second 01:00-01:30 (EST) is not
	// quiet again.
	ny := mustZone(t, "America/New_York")
	h := quiet.Hours{From: 22 * 60, To: 1*60 + 30}
	firstEnd := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC) // 01:30 EDT
	if end, in := h.Quiet(firstEnd.Add(-time.Minute), ny); !in || !end.Equal(firstEnd) {
		t.Errorf("before the first 01:30: %v %v", end, in)
	}
	if _, in := h.Quiet(time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC), ny); in {
		t.Error("01:10 EST, the hour lived again, is quiet again")
	}
}

// TestQuietMatchesBruteForce checks Quiet against the definition, found
// minute by minute, every 7 minutes over days around the daylight-saving
// changes of zones that have them both ways (and by 30 minutes, Lord
// Howe), and zones with 30- and 45-minute offsets.
func TestQuietMatchesBruteForce(t *testing.T) {
	t.Parallel()
	hours := []quiet.Hours{
		{From: 22 * 60, To: 7 * 60},
		{From: 2*60 + 30, To: 3*60 + 30}, // inside Europe's spring gap
		{From: 1*60 + 30, To: 2*60 + 10}, // inside the hour lived twice
		{From: 13 * 60, To: 15 * 60},
		{From: 23*60 + 45, To: 15},
		{From: 0, To: 2 * 60},
		{From: 2 * 60, To: 0},
	}
	spans := []struct {
		zone string
		from time.Time
	}{
		{"Europe/Paris", time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC)},
		{"Europe/Paris", time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)},
		{"America/Havana", time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)}, // changes at midnight
		{"Australia/Lord_Howe", time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC)},
		{"Australia/Lord_Howe", time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)},
		{"Asia/Kolkata", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"Asia/Kathmandu", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"Pacific/Chatham", time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC)}, // +12:45/+13:45
		{"Pacific/Apia", time.Date(2011, 12, 28, 0, 0, 0, 0, time.UTC)},  // skipped 30 December 2011 whole
	}
	for _, sp := range spans {
		loc := mustZone(t, sp.zone)
		for _, h := range hours {
			ref := newReference(loc, h)
			for at := sp.from; at.Before(sp.from.Add(4 * 24 * time.Hour)); at = at.Add(7 * time.Minute) {
				wantEnd, wantIn := ref.quiet(at)
				end, in := h.Quiet(at, loc)
				if in != wantIn || (in && !end.Equal(wantEnd)) {
					t.Fatalf("%s %+v at %s (%s): Quiet = %v until %s, want %v until %s", sp.zone, h,
						at.In(loc).Format(time.RFC3339), at.Format(time.RFC3339), in, end.In(loc).Format(time.RFC3339), wantIn, wantEnd.In(loc).Format(time.RFC3339))
				}
			}
		}
	}
}

// reference computes quiet hours by the definition, minute by minute:
// they start at the first minute of a local day whose clock shows From or
// later and end at the first minute after whose clock shows To or later
// (that day, or the next when To < From).
type reference struct {
	loc  *time.Location
	h    quiet.Hours
	memo map[[2]int]refFirst
}

type refFirst struct {
	at time.Time
	ok bool
}

func newReference(loc *time.Location, h quiet.Hours) reference {
	return reference{loc, h, map[[2]int]refFirst{}}
}

// first is the first minute whose local day is day's and clock ≥ min.
func (r reference) first(day time.Time, min int) (time.Time, bool) {
	y, m, d := day.Date()
	k := [2]int{y*10000 + int(m)*100 + d, min}
	if f, ok := r.memo[k]; ok {
		return f.at, f.ok
	}
	at, ok := r.scan(y, m, d, min)
	r.memo[k] = refFirst{at, ok}
	return at, ok
}

func (r reference) scan(y int, m time.Month, d, min int) (time.Time, bool) {
	// Every instant of a local day lies within [00:00 UTC-14, 24:00 UTC+14].
	lo := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Add(-14 * time.Hour)
	for at := lo; at.Before(lo.Add(52 * time.Hour)); at = at.Add(time.Minute) {
		lt := at.In(r.loc)
		ly, lm, ld := lt.Date()
		if ly == y && lm == m && ld == d && lt.Hour()*60+lt.Minute() >= min {
			return at, true
		}
	}
	return time.Time{}, false
}

func (r reference) quiet(now time.Time) (time.Time, bool) {
	lt := now.In(r.loc)
	for back := 0; back <= 2; back++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 12, 0, 0, 0, time.UTC)
		start, ok := r.first(day, r.h.From)
		if !ok || start.After(now) {
			continue
		}
		endDay := day
		if r.h.To < r.h.From {
			endDay = day.AddDate(0, 0, 1)
		}
		end, ok := r.first(endDay, r.h.To)
		if !ok {
			end, _ = r.first(endDay.AddDate(0, 0, 1), 0)
		}
		if now.Before(end) {
			return end, true
		}
		return time.Time{}, false
	}
	return time.Time{}, false
}

func TestDay(t *testing.T) {
	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	if d := quiet.Day(at, mustZone(t, "Pacific/Noumea")); d != 20261208 {
		t.Errorf("Nouméa day %d", d)
	}
	if d := quiet.Day(at, mustZone(t, "America/Montreal")); d != 20261207 {
		t.Errorf("Montréal day %d", d)
	}
	if d := quiet.Day(time.Date(2026, 12, 7, 18, 20, 0, 0, time.UTC), mustZone(t, "Asia/Kathmandu")); d != 20261208 {
		t.Errorf("Kathmandu day %d (18:20 UTC is 00:05 the next day)", d)
	}
}

func FuzzParseHours(f *testing.F) {
	for _, s := range [][2]string{{"22:00", "07:00"}, {"00:00", "23:59"}, {"24:00", "1:00"}, {"ab:cd", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		h, err := quiet.ParseHours(from, to)
		if err != nil {
			return
		}
		if !h.Set() || h.From < 0 || h.From >= 1440 || h.To < 0 || h.To >= 1440 {
			t.Fatalf("ParseHours(%q, %q) = %+v", from, to, h)
		}
		if quiet.Clock(h.From) != from || quiet.Clock(h.To) != to {
			t.Fatalf("ParseHours(%q, %q) does not round-trip: %+v", from, to, h)
		}
		// Whatever the zone and time, the end is after now and within a day.
		now := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
		for _, z := range []string{"Europe/Paris", "Asia/Kathmandu"} {
			loc, _ := quiet.Zone(z)
			for at := now; at.Before(now.Add(26 * time.Hour)); at = at.Add(37 * time.Minute) {
				if end, in := h.Quiet(at, loc); in && (!end.After(at) || end.Sub(at) > 25*time.Hour) {
					t.Fatalf("%s %+v at %s: end %s", z, h, at, end)
				}
			}
		}
	})
}

// BenchmarkQuiet is the push path's cost for one browser with quiet hours
// (zone looked up in the cache, quiet hours checked).
func BenchmarkQuiet(b *testing.B) {
	h := quiet.Hours{From: 22 * 60, To: 7 * 60}
	at := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	for b.Loop() {
		loc := quiet.ZoneOr("Asia/Kathmandu", time.UTC)
		h.Quiet(at, loc)
	}
}
