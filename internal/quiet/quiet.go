// Package quiet is the time of day in a reader's own zone: IANA zone names
// checked and loaded once, a browser's quiet hours ("not between 22:00 and
// 07:00") and its day for a daily cap. Pure functions of the time they are
// given: the callers pass their clock in, so tests control it.
//
// It imports only the standard library (and its copy of the zone database,
// so a static binary in an image without /usr/share/zoneinfo knows every
// zone).
package quiet

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones in a static binary on a bare image
)

// zones caches loaded locations: time.LoadLocation reads and parses the
// zone file on every call, and the push path asks once per message.
var zones sync.Map // name → *time.Location

// ErrZone is an unknown or unacceptable time zone name.
var ErrZone = errors.New("unknown time zone")

// Zone returns the IANA zone name, loaded once. "Local" (the server's
// zone, which readers cannot mean) and names that are no zone are refused.
func Zone(name string) (*time.Location, error) {
	if v, ok := zones.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" || name == "Local" || len(name) > 64 || strings.ContainsAny(name, " \\") {
		return nil, fmt.Errorf("%w %q", ErrZone, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w %q", ErrZone, name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// ZoneOr returns the zone name, or def when the name is empty or no
// longer known (a zone the tz database dropped after it was stored).
func ZoneOr(name string, def *time.Location) *time.Location {
	if name == "" {
		return def
	}
	if loc, err := Zone(name); err == nil {
		return loc
	}
	return def
}

// Hours are a browser's quiet hours, in minutes after local midnight:
// quiet from From until the clock next reaches To (over midnight when To
// is before From). The zero value (From == To) is no quiet hours.
type Hours struct{ From, To int }

// Set reports whether h holds quiet hours.
func (h Hours) Set() bool { return h.From != h.To }

// ParseClock reads "HH:MM" (24 h) as minutes after midnight.
func ParseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not a time of day such as 22:00", s)
	}
	var hh, mm int
	for i, c := range []byte(s) {
		if i == 2 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a time of day such as 22:00", s)
		}
	}
	hh = int(s[0]-'0')*10 + int(s[1]-'0')
	mm = int(s[3]-'0')*10 + int(s[4]-'0')
	if hh > 23 || mm > 59 {
		return 0, fmt.Errorf("%q is not a time of day such as 22:00", s)
	}
	return hh*60 + mm, nil
}

// ParseHours reads quiet hours from two "HH:MM" times, which must differ.
func ParseHours(from, to string) (Hours, error) {
	f, err := ParseClock(from)
	if err != nil {
		return Hours{}, err
	}
	t, err := ParseClock(to)
	if err != nil {
		return Hours{}, err
	}
	if f == t {
		return Hours{}, fmt.Errorf("quiet hours must end at another time than they start")
	}
	return Hours{From: f, To: t}, nil
}

// Clock formats minutes after midnight as "HH:MM".
func Clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Quiet reports whether now falls in quiet hours in loc, and when they
// end. Quiet hours begin at the first instant of a local day whose clock
// shows From or later, and end at the first instant after that whose
// clock shows To or later: a time skipped by a daylight-saving change
// counts from the end of the gap (quiet until 02:30 on a night that
// jumps from 02:00 to 03:00 ends at 03:00), and an hour lived twice does
// not start them again once they have ended.
func (h Hours) Quiet(now time.Time, loc *time.Location) (end time.Time, in bool) {
	if !h.Set() {
		return time.Time{}, false
	}
	lt := now.In(loc)
	y, m, d := lt.Date()
	// The latest start at or before now is today's or, before it, an
	// earlier day's (two back covers a day a zone skipped whole).
	for back := 0; back <= 2; back++ {
		start, ok := firstAt(y, m, d-back, h.From, loc)
		if !ok || start.After(now) {
			continue
		}
		endDay := d - back
		if h.To < h.From {
			endDay++
		}
		e, ok := firstAt(y, m, endDay, h.To, loc)
		if !ok {
			// The end's day was skipped whole: quiet ends with the next day.
			e, _ = firstAt(y, m, endDay+1, 0, loc)
		}
		if now.Before(e) {
			return e, true
		}
		return time.Time{}, false
	}
	return time.Time{}, false
}

// firstAt returns the first instant of local day (y, m, d) (normalised as
// time.Date does) whose clock shows min minutes after midnight or later;
// false when the day has none (it was skipped, or ends before min).
func firstAt(y int, m time.Month, d, min int, loc *time.Location) (time.Time, bool) {
	// The calendar day asked for (d may be 0 or 32: time.Date normalises).
	y, m, d = time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date()
	noon := time.Date(y, m, d, 12, 0, 0, 0, loc)
	if !sameDay(noon, y, m, d) {
		return time.Time{}, false // a day the zone skipped whole
	}
	c := time.Date(y, m, d, min/60, min%60, 0, 0, loc)
	if cy, cm, cd := c.Date(); cy != y || cm != m || cd != d {
		// Normalised into another day: a gap across midnight. The first
		// instant of the day at or after min is then the zone change.
		if c.Before(noon) {
			_, zend := c.ZoneBounds()
			return zend, sameDay(zend, y, m, d)
		}
		start, _ := c.ZoneBounds()
		return start, sameDay(start, y, m, d)
	}
	if clock(c) != min {
		// min fell in a gap: time.Date moved it across the change. The
		// first instant at or after min is the change itself.
		if clock(c) > min {
			start, _ := c.ZoneBounds()
			return start, true
		}
		_, zend := c.ZoneBounds()
		return zend, sameDay(zend, y, m, d)
	}
	// min may be lived twice (clocks set back): take the first.
	if start, _ := c.ZoneBounds(); !start.IsZero() {
		_, offNow := c.Zone()
		_, offBefore := start.Add(-time.Second).Zone()
		if offBefore > offNow {
			e := c.Add(-time.Duration(offBefore-offNow) * time.Second)
			if e.Before(start) && clock(e) == min && sameDay(e, y, m, d) {
				return e, true
			}
		}
	}
	return c, true
}

func clock(t time.Time) int { return t.Hour()*60 + t.Minute() }

func sameDay(t time.Time, y int, m time.Month, d int) bool {
	ty, tm, td := t.Date()
	return ty == y && tm == m && td == d
}

// Day names the local day of now in loc (20261207), the period of a
// browser's daily cap.
func Day(now time.Time, loc *time.Location) int {
	y, m, d := now.In(loc).Date()
	return y*10000 + int(m)*100 + d
}
