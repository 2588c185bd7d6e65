package digest_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/schedule"
	"github.com/crieur/crieur/internal/store"
)

// instance is one daemon's digest side: a store handle, a runner and a
// local schedule, all on the test's clock.
type instance struct {
	st *store.Store
	r  *digest.Runner
	z  *schedule.Zoned
}

// localSim drives local digests over SQLite on a clock the test moves,
// with any number of instances sharing the database.
type localSim struct {
	t      *testing.T
	ctx    context.Context
	path   string
	clock  time.Time
	daily  string
	weekly string
	inst   []*instance
	runAt  map[int64]time.Time
	got    map[string][]string // reader → "scheduled instant" of each digest, in order
	seen   map[string]map[int64]bool
	emails map[int64]string
}

func newLocalSim(t *testing.T, daily, weekly string, start time.Time, instances int) *localSim {
	t.Helper()
	s := &localSim{t: t, ctx: context.Background(), path: filepath.Join(t.TempDir(), "c.db"), clock: start, daily: daily, weekly: weekly,
		runAt: map[int64]time.Time{}, got: map[string][]string{}, seen: map[string]map[int64]bool{}, emails: map[int64]string{}}
	for range instances {
		s.inst = append(s.inst, s.start(false))
	}
	if _, err := s.inst[0].st.CreateTopic(s.ctx, "monde", "Monde"); err != nil {
		t.Fatal(err)
	}
	s.publish()
	return s
}

// publish posts an article at the clock's time.
func (s *localSim) publish() {
	s.t.Helper()
	if _, _, err := s.inst[0].st.SaveArticle(s.ctx, news.Article{GUID: s.clock.String(), URL: "https://n.example/" + fmt.Sprint(s.clock.Unix()),
		Title: "À " + s.clock.Format(time.Kitchen), Topics: []string{"monde"}, PublishedAt: s.clock}); err != nil {
		s.t.Fatal(err)
	}
}

// start opens an instance; catchUp makes it start as a restarted daemon
// does, catching up what no instance made while it was down.
func (s *localSim) start(catchUp bool) *instance {
	s.t.Helper()
	st, err := store.Open(s.ctx, "sqlite:"+s.path, store.Options{})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(s.ctx); err != nil {
		s.t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	clock := func() time.Time { return s.clock }
	r := digest.NewRunner(st, log, clock, nil)
	r.SetLocal(true)
	z, err := schedule.NewZoned(s.daily, s.weekly, time.UTC, r, st.DigestZones, clock, log)
	if err != nil {
		s.t.Fatal(err)
	}
	if catchUp {
		if err := z.CatchUp(s.ctx, s.clock, 6*time.Hour, st.LastScheduled); err != nil {
			s.t.Fatal(err)
		}
	} else if err := z.RunOnce(s.ctx, s.clock); err != nil {
		s.t.Fatal(err)
	}
	return &instance{st: st, r: r, z: z}
}

func (s *localSim) reader(email, zone string, f news.Frequency) {
	s.t.Helper()
	st := s.inst[0].st
	if _, err := st.ImportBatch(s.ctx, []store.ImportRow{{Email: email, Hash: email, Status: news.Confirmed,
		Prefs: store.Prefs{Frequency: f, Lang: news.French, Timezone: zone}}}, s.clock); err != nil {
		s.t.Fatal(err)
	}
	sub, err := st.SubscriberByEmail(s.ctx, email)
	if err != nil {
		s.t.Fatal(err)
	}
	s.emails[sub.ID] = email
}

func (s *localSim) move(email, zone string) {
	s.t.Helper()
	st := s.inst[0].st
	sub, err := st.SubscriberByEmail(s.ctx, email)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := st.UpdatePrefs(s.ctx, sub.ID, store.Prefs{Frequency: sub.Frequency, Lang: sub.Lang, Timezone: zone}, s.clock); err != nil {
		s.t.Fatal(err)
	}
}

// step moves the clock by d: an article is published, then every
// instance looks for slots and enqueues, and what was queued is "sent".
func (s *localSim) step(d time.Duration) {
	s.t.Helper()
	s.clock = s.clock.Add(d)
	if s.clock.Minute() == 0 {
		s.publish()
	}
	for _, in := range s.inst {
		if err := in.z.RunOnce(s.ctx, s.clock); err != nil {
			s.t.Fatal(err)
		}
	}
	for _, in := range s.inst {
		if err := in.r.RunOnce(s.ctx); err != nil {
			s.t.Fatal(err)
		}
	}
	s.drain()
}

func (s *localSim) drain() {
	s.t.Helper()
	st := s.inst[0].st
	for {
		ds, err := st.ClaimDeliveries(s.ctx, "test", s.clock.Add(time.Hour), 100)
		if err != nil {
			s.t.Fatal(err)
		}
		if len(ds) == 0 {
			return
		}
		var rs []store.Result
		for _, d := range ds {
			at, ok := s.runAt[d.RunID]
			if !ok {
				run, err := st.Run(s.ctx, d.RunID)
				if err != nil {
					s.t.Fatal(err)
				}
				at = run.ScheduledAt
				s.runAt[d.RunID] = at
			}
			email := s.emails[d.SubscriberID]
			if len(d.Articles) == 0 {
				s.t.Errorf("%s: an empty digest at %s", email, at)
			}
			if s.seen[email] == nil {
				s.seen[email] = map[int64]bool{}
			}
			for _, a := range d.Articles {
				if s.seen[email][a] {
					s.t.Errorf("%s: article %d a second time, at %s", email, a, at)
				}
				s.seen[email][a] = true
			}
			s.got[email] = append(s.got[email], at.UTC().Format("01-02 15:04"))
			rs = append(rs, d.Outcome(store.Result{State: news.DeliverySent}))
		}
		if _, err := st.RecordDeliveries(s.ctx, rs, s.clock); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *localSim) until(end time.Time, d time.Duration, at map[time.Time]func()) {
	s.t.Helper()
	for s.clock.Before(end) {
		s.step(d)
		if f, ok := at[s.clock]; ok {
			f()
		}
	}
}

func (s *localSim) want(want map[string][]string) {
	s.t.Helper()
	for email, w := range want {
		if got := s.got[email]; !slices.Equal(got, w) {
			s.t.Errorf("%s got digests at %v, want %v", email, got, w)
		}
	}
	var extra []string
	for email := range s.got {
		if _, ok := want[email]; !ok {
			extra = append(extra, email)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		s.t.Errorf("unexpected digests for %s", strings.Join(extra, ", "))
	}
}

// TestLocalDigestsSpringForward runs four days across the March change in
// Europe/Paris with two instances sharing the database: a 07:00 digest
// reaches readers in Dakar, Paris, Montréal, Nouméa, Kolkata, Kathmandu
// and the default zone at 07:00 their time, each once per local day; a
// weekly Sunday 02:30 digest, an hour Paris skips that Sunday, comes at
// the change. Readers who change zone get one digest per local date of
// their new zone: moving west after their digest, nothing more that day;
// moving east before it, the next one in their new zone (that day's
// 07:00 there has passed); moving east after it, the new zone's next
// morning. Both instances go down across the Sunday morning slots of
// Paris and Dakar; the restart catches them up, late but once.
func TestLocalDigestsSpringForward(t *testing.T) {
	t.Parallel()
	s := newLocalSim(t, "0 7 * * *", "30 2 * * 0", time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC), 2)
	for email, zone := range map[string]string{"dakar": "Africa/Dakar", "paris": "Europe/Paris", "montreal": "America/Montreal",
		"noumea": "Pacific/Noumea", "kolkata": "Asia/Kolkata", "kathmandu": "Asia/Kathmandu", "default": "",
		"west": "Europe/Paris", "east-before": "America/Montreal", "east-after": "America/Montreal"} {
		s.reader(email, zone, news.Daily)
	}
	s.reader("weekly-paris", "Europe/Paris", news.Weekly)
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, time.UTC) }
	s.until(at(3, 29, 4, 0), 5*time.Minute, map[time.Time]func(){
		at(3, 28, 8, 0):  func() { s.move("west", "America/Montreal") },     // after 07:00 in Paris
		at(3, 28, 9, 0):  func() { s.move("east-before", "Europe/Paris") },  // 05:00 in Montréal
		at(3, 28, 12, 0): func() { s.move("east-after", "Pacific/Noumea") }, // after 07:00 in Montréal
	})
	// Down from 04:00 to 08:00 UTC on Sunday 29: no look, no run.
	s.clock = at(3, 29, 8, 0)
	s.inst = []*instance{s.start(true), s.start(true)}
	s.drain()
	s.until(at(3, 31, 0, 0), 5*time.Minute, nil)

	s.want(map[string][]string{
		"dakar":        {"03-28 07:00", "03-29 07:00", "03-30 07:00"},
		"paris":        {"03-28 06:00", "03-29 07:00", "03-30 05:00"}, // 29th: caught up at 07:00 UTC
		"montreal":     {"03-28 11:00", "03-29 11:00", "03-30 11:00"},
		"noumea":       {"03-27 20:00", "03-28 20:00", "03-29 20:00", "03-30 20:00"},
		"kolkata":      {"03-28 01:30", "03-29 01:30", "03-30 01:30"},
		"kathmandu":    {"03-28 01:15", "03-29 01:15", "03-30 01:15"},
		"default":      {"03-28 07:00", "03-29 07:00", "03-30 07:00"},
		"weekly-paris": {"03-29 01:00"},
		"west":         {"03-28 06:00", "03-29 11:00", "03-30 11:00"},
		"east-before":  {"03-29 07:00", "03-30 05:00"},
		"east-after":   {"03-28 11:00", "03-28 20:00", "03-29 20:00", "03-30 20:00"},
	})
}

// TestLocalDigestsFallBack runs the October change in Europe/Paris and
// the November one in America/Montreal with a daily spec at 02:30 and a
// weekly one at 01:30 on Sundays, both in the repeated hour somewhere:
// one digest, at the first pass.
func TestLocalDigestsFallBack(t *testing.T) {
	t.Parallel()
	s := newLocalSim(t, "30 2 * * *", "30 1 * * 0", time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC), 1)
	s.reader("paris", "Europe/Paris", news.Daily)
	s.reader("kathmandu", "Asia/Kathmandu", news.Daily)
	s.reader("montreal-weekly", "America/Montreal", news.Weekly)
	s.until(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC), 15*time.Minute, nil)
	s.want(map[string][]string{
		// 02:30 CEST on the 25th (00:30 UTC), not again at 02:30 CET.
		"paris": {"10-24 00:30", "10-25 00:30", "10-26 01:30", "10-27 01:30", "10-28 01:30", "10-29 01:30", "10-30 01:30",
			"10-31 01:30", "11-01 01:30", "11-02 01:30"},
		"kathmandu": {"10-24 20:45", "10-25 20:45", "10-26 20:45", "10-27 20:45", "10-28 20:45", "10-29 20:45", "10-30 20:45",
			"10-31 20:45", "11-01 20:45"},
		// 01:30 EDT on 1 November (05:30 UTC), not again at 01:30 EST.
		"montreal-weekly": {"10-25 05:30", "11-01 05:30"},
	})
}
