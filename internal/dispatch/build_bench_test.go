package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/templates"
)

// digestFixture is a store holding readers of 2-4 of 8 topics (one in five
// English) and two articles a topic, as crieur-bench's serve scenario
// imports them, with a builder wired as the daemon wires it.
type digestFixture struct {
	st         *store.Store
	builder    *dispatch.MessageBuilder
	deliveries []store.Delivery
}

func newDigestFixture(tb testing.TB, readers int) *digestFixture {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "c.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	slugs := []string{"politique", "international", "economie", "sport", "culture", "sciences", "societe", "planete"}
	names := []string{"Politique", "International", "Économie", "Sport", "Culture", "Sciences", "Société", "Planète"}
	topicIDs := make([]int64, len(slugs))
	for i, s := range slugs {
		tp, err := st.CreateTopic(ctx, s, names[i])
		if err != nil {
			tb.Fatal(err)
		}
		topicIDs[i] = tp.ID
	}
	now := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	artsOf := map[string][]int64{}
	for i := range 16 {
		slug := slugs[i/2]
		id, _, err := st.SaveArticle(ctx, news.Article{GUID: fmt.Sprint("g", i), URL: fmt.Sprintf("https://news.example.com/%s/article-%d", slug, i),
			Title:   fmt.Sprintf("Budget 2027 : le gouvernement engage sa responsabilité, épisode %d", i),
			Summary: "La Première ministre a annoncé le recours au 49.3 après trois semaines de débats. Les oppositions déposent une motion de censure qui sera examinée jeudi.",
			Author:  "Jeanne Dupont", Topics: []string{slug}, PublishedAt: now.Add(-time.Duration(i) * time.Minute)})
		if err != nil {
			tb.Fatal(err)
		}
		artsOf[slug] = append(artsOf[slug], id)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]store.ImportRow, readers)
	readerTopics := make([][]string, readers)
	for i := range rows {
		perm := rng.Perm(len(slugs))[:2+rng.IntN(3)]
		var ids []int64
		for _, p := range perm {
			ids = append(ids, topicIDs[p])
			readerTopics[i] = append(readerTopics[i], slugs[p])
		}
		lang := news.French
		if i%5 == 4 {
			lang = news.English
		}
		rows[i] = store.ImportRow{Line: i + 2, Email: fmt.Sprintf("lecteur.%d@example.org", i+1), Hash: fmt.Sprint("h", i),
			Prefs: store.Prefs{Frequency: news.Daily, Lang: lang, TopicIDs: ids}, Status: news.Confirmed}
	}
	if _, err := st.ImportBatch(ctx, rows, now); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	tokens, _ := subscribe.NewTokens([]byte(strings.Repeat("k", 32)), nil)
	svc := subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: []byte("h"), BaseURL: "https://lettres.news.example.com", Log: log})
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Quotidien", URL: "https://news.example.com"})
	if err != nil {
		tb.Fatal(err)
	}
	f := &digestFixture{st: st, builder: &dispatch.MessageBuilder{Store: st, Composer: comp, Subscribe: svc,
		From: "Le Quotidien <newsletter@news.example.com>", ListID: "Le Quotidien <digest.news.example.com>",
		FeedbackBrand: "quotidien", Now: func() time.Time { return now }}}
	for i := range readers {
		sub, err := st.SubscriberByEmail(ctx, rows[i].Email)
		if err != nil {
			tb.Fatal(err)
		}
		var arts []int64
		for _, s := range readerTopics[i] {
			arts = append(arts, artsOf[s]...)
		}
		// Newest first, as the digest runner lists them.
		slices.Sort(arts)
		f.deliveries = append(f.deliveries, store.Delivery{ID: int64(i + 1), Kind: news.MailDigest, RunID: 1, SubscriberID: sub.ID, Articles: arts})
	}
	return f
}

// BenchmarkBuildDigest builds one reader's digest message, as a Mailer's
// worker does for every delivery it claims (store reads included).
func BenchmarkBuildDigest(b *testing.B) {
	f := newDigestFixture(b, 2000)
	ctx := context.Background()
	b.ReportAllocs()
	var size, i int
	cpu := cpuTime()
	for b.Loop() {
		// The Mailer reads the readers of a claim (160 messages with 20
		// connections) in one query.
		if i%160 == 0 {
			f.prefetch(b, i, 160)
		}
		_, raw, err := f.builder.Build(ctx, f.deliveries[i%len(f.deliveries)])
		if err != nil {
			b.Fatal(err)
		}
		size += len(raw)
		i++
	}
	b.ReportMetric(float64(size)/float64(i), "bytes/msg")
	// CPU rather than wall time: the machine is shared.
	b.ReportMetric(float64(cpuTime()-cpu)/float64(i), "cpu-ns/op")
}

// prefetch reads the readers of the n deliveries from the i-th on, as the
// Mailer's claim does.
func (f *digestFixture) prefetch(tb testing.TB, i, n int) {
	tb.Helper()
	ids := make([]int64, n)
	for k := range ids {
		ids[k] = f.deliveries[(i+k)%len(f.deliveries)].SubscriberID
	}
	readers, err := f.st.SubscribersByID(context.Background(), ids)
	if err != nil {
		tb.Fatal(err)
	}
	for k := range ids {
		d := &f.deliveries[(i+k)%len(f.deliveries)]
		sub := readers[d.SubscriberID]
		d.Reader = &sub
	}
}

// cpuTime is the CPU time this process has used, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuildDigestUnshared is BenchmarkBuildDigest when no two readers
// get the same digest (each a different "N more" line): every message
// renders its digest through the templates and caches it for nobody, the
// worst case of the digest skeletons.
func BenchmarkBuildDigestUnshared(b *testing.B) {
	f := newDigestFixture(b, 2000)
	ctx := context.Background()
	b.ReportAllocs()
	var i int
	cpu := cpuTime()
	for b.Loop() {
		if i%160 == 0 {
			f.prefetch(b, i, 160)
		}
		d := f.deliveries[i%len(f.deliveries)]
		d.More = i + 1
		if _, _, err := f.builder.Build(ctx, d); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(i), "cpu-ns/op")
}
