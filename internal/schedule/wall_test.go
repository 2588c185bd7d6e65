package schedule_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/schedule"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestFiringsAcrossDST: a spec read on a zone's clock fires once per day
// whatever daylight saving does: an hour skipped (March in Paris and
// Montréal) fires at the change, an hour repeated (October in Paris,
// November in Montréal) fires at its first pass, and 30- and 45-minute
// zones fire at their own minute.
func TestFiringsAcrossDST(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, zone, spec string
		from, to         string // UTC
		want             []string
	}{
		{"Paris 07:00 through the March change", "Europe/Paris", "0 7 * * *", "2026-03-27 12:00", "2026-03-31 12:00",
			[]string{"2026-03-28 06:00", "2026-03-29 05:00", "2026-03-30 05:00", "2026-03-31 05:00"}},
		{"Paris 02:30, skipped on 29 March: at the change (03:00 CEST)", "Europe/Paris", "30 2 * * *", "2026-03-27 12:00", "2026-03-30 12:00",
			[]string{"2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30"}},
		{"Paris 02:30, repeated on 25 October: the first pass only", "Europe/Paris", "30 2 * * *", "2026-10-23 12:00", "2026-10-26 12:00",
			[]string{"2026-10-24 00:30", "2026-10-25 00:30", "2026-10-26 01:30"}},
		{"Paris 07:00 through the October change", "Europe/Paris", "0 7 * * *", "2026-10-24 00:00", "2026-10-27 00:00",
			[]string{"2026-10-24 05:00", "2026-10-25 06:00", "2026-10-26 06:00"}},
		{"Montréal 02:30, skipped on 8 March", "America/Montreal", "30 2 * * *", "2026-03-07 00:00", "2026-03-10 00:00",
			[]string{"2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30"}},
		{"Montréal 01:30, repeated on 1 November", "America/Montreal", "30 1 * * *", "2026-10-31 00:00", "2026-11-03 00:00",
			[]string{"2026-10-31 05:30", "2026-11-01 05:30", "2026-11-02 06:30"}},
		{"Montréal 07:00 weekly on Mondays across November", "America/Montreal", "0 7 * * 1", "2026-10-20 00:00", "2026-11-12 00:00",
			[]string{"2026-10-26 11:00", "2026-11-02 12:00", "2026-11-09 12:00"}},
		{"Kolkata (+05:30)", "Asia/Kolkata", "0 7 * * *", "2026-12-07 00:00", "2026-12-09 00:00",
			[]string{"2026-12-07 01:30", "2026-12-08 01:30"}},
		{"Kathmandu (+05:45)", "Asia/Kathmandu", "0 7 * * *", "2026-12-07 00:00", "2026-12-09 00:00",
			[]string{"2026-12-07 01:15", "2026-12-08 01:15"}},
		{"Nouméa 07:00 is the evening before in UTC", "Pacific/Noumea", "0 7 * * *", "2026-12-07 00:00", "2026-12-09 00:00",
			[]string{"2026-12-07 20:00", "2026-12-08 20:00"}},
	}
	for _, c := range cases {
		loc := zone(t, c.zone)
		sched, err := schedule.ParseLocal(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		got := schedule.Firings(sched, loc, utc(c.from), utc(c.to))
		if len(got) != len(c.want) {
			t.Errorf("%s: %d firings %v, want %v", c.name, len(got), got, c.want)
			continue
		}
		for i, f := range got {
			if !f.At.Equal(utc(c.want[i])) {
				t.Errorf("%s: firing %d at %s, want %s", c.name, i, f.At.UTC().Format("2006-01-02 15:04"), c.want[i])
			}
			// The key is the spec's wall time, even where the clock never
			// showed it.
			var minute, hour int
			fmt.Sscanf(c.spec, "%d %d", &minute, &hour)
			if w := time.UnixMilli(f.Key).UTC(); w.Hour() != hour || w.Minute() != minute || w.Format("2006-01-02") != schedule.Wall(f.At.Add(-2*time.Hour), loc).Format("2006-01-02") && w.Format("2006-01-02") != schedule.Wall(f.At, loc).Format("2006-01-02") {
				t.Errorf("%s: firing %d keyed %s", c.name, i, w)
			}
		}
	}
}

// TestOneFiringPerLocalDay runs a whole year in zones with every kind of
// change (whole hours, 30 minutes at Lord Howe, at midnight in Santiago
// and Havana, two hours at Troll) and at times of day that fall in the
// skipped or repeated hours: every local day gets exactly one firing, at
// increasing instants, keyed by that day.
func TestOneFiringPerLocalDay(t *testing.T) {
	t.Parallel()
	zones := []string{"Europe/Paris", "America/Montreal", "Africa/Dakar", "Pacific/Noumea", "Asia/Kolkata", "Asia/Kathmandu",
		"Australia/Lord_Howe", "America/Santiago", "America/Havana", "Antarctica/Troll", "Pacific/Chatham", "America/St_Johns"}
	specs := []string{"0 7 * * *", "0 0 * * *", "30 2 * * *", "15 1 * * *", "45 23 * * *", "0 2 * * *"}
	from, to := utc("2026-01-01 12:00"), utc("2027-01-01 12:00")
	for _, name := range zones {
		loc := zone(t, name)
		for _, spec := range specs {
			sched, _ := schedule.ParseLocal(spec)
			fs := schedule.Firings(sched, loc, from, to)
			days := map[string]int{}
			for i, f := range fs {
				if i > 0 && !f.At.After(fs[i-1].At) {
					t.Fatalf("%s %q: firing %d at %s not after %s", name, spec, i, f.At, fs[i-1].At)
				}
				if i > 0 && f.Key <= fs[i-1].Key {
					t.Fatalf("%s %q: keys not increasing at %s", name, spec, f.At)
				}
				days[time.UnixMilli(f.Key).UTC().Format("2006-01-02")]++
			}
			// Local days from the second to the one before last are whole.
			for d := schedule.Wall(from, loc).AddDate(0, 0, 1); d.Before(schedule.Wall(to, loc).AddDate(0, 0, -1)); d = d.AddDate(0, 0, 1) {
				if n := days[d.Format("2006-01-02")]; n != 1 {
					t.Errorf("%s %q: %d firings on %s", name, spec, n, d.Format("2006-01-02"))
				}
			}
		}
	}
}

// TestSlots: a 07:00 digest for readers in Dakar, Paris, Montréal,
// Nouméa, Kolkata, Kathmandu and the default zone (UTC) makes one slot
// per distinct instant, each naming the zones whose 07:00 it is.
func TestSlots(t *testing.T) {
	t.Parallel()
	zones := map[string]*time.Location{"": time.UTC}
	for _, n := range []string{"Africa/Dakar", "Europe/Paris", "America/Montreal", "Pacific/Noumea", "Asia/Kolkata", "Asia/Kathmandu"} {
		zones[n] = zone(t, n)
	}
	sched, _ := schedule.ParseLocal("0 7 * * *")
	slots := schedule.Slots(sched, zones, utc("2026-12-08 00:00"), utc("2026-12-09 00:00"))
	want := []struct {
		at    string
		zones []string
	}{
		{"2026-12-08 01:15", []string{"Asia/Kathmandu"}},
		{"2026-12-08 01:30", []string{"Asia/Kolkata"}},
		{"2026-12-08 06:00", []string{"Europe/Paris"}},
		{"2026-12-08 07:00", []string{"", "Africa/Dakar"}},
		{"2026-12-08 12:00", []string{"America/Montreal"}},
		{"2026-12-08 20:00", []string{"Pacific/Noumea"}}, // 07:00 on the 9th in Nouméa
	}
	if len(slots) != len(want) {
		t.Fatalf("slots %v, want %d", slots, len(want))
	}
	for i, w := range want {
		s := slots[i]
		if !s.At.Equal(utc(w.at)) || len(s.Zones) != len(w.zones) {
			t.Errorf("slot %d: %s %v, want %s %v", i, s.At, s.Zones, w.at, w.zones)
			continue
		}
		for _, z := range w.zones {
			key, ok := s.Zones[z]
			local := schedule.Wall(s.At, zones[z])
			if !ok || key != schedule.WallKey(local) || local.Format("15:04") != "07:00" {
				t.Errorf("slot %d zone %q: key %d (%s), want 07:00 local", i, z, key, time.UnixMilli(key).UTC())
			}
		}
	}
}

func TestParseLocalRefusesCronTZ(t *testing.T) {
	t.Parallel()
	if _, err := schedule.ParseLocal("CRON_TZ=Europe/Paris 0 7 * * *"); err == nil {
		t.Fatal("CRON_TZ accepted for local digests")
	}
	if _, err := schedule.ParseLocal("0 7 * * 1"); err != nil {
		t.Fatal(err)
	}
}
