package schedule

import (
	"sort"
	"time"

	"github.com/robfig/cron/v3"
)

// Local digests (CRIEUR_DIGEST_LOCAL) read a cron spec on each reader's
// wall clock. A firing of the spec is a wall time (a date and a time of
// day, no zone); in a zone it names an instant:
//
//   - the only one, most days;
//   - the first of the two when a daylight-saving change repeats the
//     hour (02:30 on the last Sunday of October in Europe/Paris is sent
//     at 02:30 CEST, not again at 02:30 CET);
//   - the change itself when the change skips the hour (02:30 on the last
//     Sunday of March in Europe/Paris is sent at 03:00 CEST).
//
// So every firing of the spec happens once in every zone, and its wall
// time, the key, tells it apart from every other firing on that clock: a
// reader's ledger keeps the key of the last firing that reached them.

// Wall returns the wall time of t in loc, held as the same date and clock
// reading in UTC.
func Wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, mo, d := l.Date()
	h, mi, s := l.Clock()
	return time.Date(y, mo, d, h, mi, s, l.Nanosecond(), time.UTC)
}

// WallKey is the ledger's form of a wall time: Unix milliseconds of the
// wall time read as UTC, so that keys of any zone compare as wall times.
func WallKey(wall time.Time) int64 { return wall.UnixMilli() }

// At returns the instant wall time w (as Wall gives it) names in loc,
// following the rules above.
func At(w time.Time, loc *time.Location) time.Time {
	var first time.Time
	// The offsets in force a day either side cover any change near w.
	for _, probe := range []time.Time{w.Add(-26 * time.Hour), w, w.Add(26 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		c := w.Add(-time.Duration(off) * time.Second)
		if Wall(c, loc).Equal(w) && (first.IsZero() || c.Before(first)) {
			first = c
		}
	}
	if !first.IsZero() {
		return first
	}
	// Skipped: read with the offset before the change, w falls after it,
	// in the period the change opened.
	_, before := w.Add(-26 * time.Hour).In(loc).Zone()
	start, _ := w.Add(-time.Duration(before) * time.Second).In(loc).ZoneBounds()
	if start.IsZero() {
		return w.Add(-time.Duration(before) * time.Second)
	}
	return start
}

// wallSchedule is sched read on a clock with no zone: a spec's own
// location (parsed without CRON_TZ it follows the time it is given) is
// set aside for UTC, where no firing is ever skipped or repeated.
func wallSchedule(sched cron.Schedule) cron.Schedule {
	if s, ok := sched.(*cron.SpecSchedule); ok {
		c := *s
		c.Location = time.UTC
		return &c
	}
	return sched
}

// Firing is one firing of a spec in one zone.
type Firing struct {
	At  time.Time // the instant, to the minute
	Key int64     // WallKey of its wall time
}

// margin is how far a zone's clock may jump at a change: two hours covers
// every change in the time zone database since 1970 (Antarctica/Troll).
const margin = 3 * time.Hour

// Firings returns the firings of sched in loc at instants in (after,
// upto], in order. Firings that fall on one instant (a spec firing twice
// in a skipped hour) are one, with the later key.
func Firings(sched cron.Schedule, loc *time.Location, after, upto time.Time) []Firing {
	ws := wallSchedule(sched)
	end := Wall(upto, loc).Add(margin)
	var out []Firing
	for w := ws.Next(Wall(after, loc).Add(-margin)); !w.IsZero() && !w.After(end); w = ws.Next(w) {
		at := At(w, loc)
		if !at.After(after) || at.After(upto) {
			continue
		}
		f := Firing{At: at, Key: WallKey(w)}
		if n := len(out); n > 0 && out[n-1].At.Equal(at) {
			out[n-1] = f
			continue
		}
		out = append(out, f)
	}
	return out
}

// Slot is one instant at which sched fires in some zones, and each of
// those zones' key.
type Slot struct {
	At    time.Time
	Zones map[string]int64
}

// Slots returns the slots of sched in (after, upto] for zones (name to
// location), in order.
func Slots(sched cron.Schedule, zones map[string]*time.Location, after, upto time.Time) []Slot {
	byAt := map[int64]*Slot{}
	for name, loc := range zones {
		for _, f := range Firings(sched, loc, after, upto) {
			s := byAt[f.At.UnixNano()]
			if s == nil {
				s = &Slot{At: f.At, Zones: map[string]int64{}}
				byAt[f.At.UnixNano()] = s
			}
			s.Zones[name] = f.Key
		}
	}
	out := make([]Slot, 0, len(byAt))
	for _, s := range byAt {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}
