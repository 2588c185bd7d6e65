package webhook_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/webhook"
	"github.com/crieur/crieur/internal/webhook/webhooktest"
)

// BenchmarkConfirm measures what the outbox adds to a reader's
// confirmation (one transaction on SQLite): with no endpoint, one lookup;
// with one that wants subscriber.confirmed, the event and its delivery.
func BenchmarkConfirm(b *testing.B) {
	for _, endpoints := range []int{0, 1} {
		b.Run(fmt.Sprintf("endpoints=%d", endpoints), func(b *testing.B) {
			st, err := store.Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
			if endpoints == 1 {
				if _, err := st.CreateWebhookEndpoint(b.Context(), "https://crm.example/in", []news.EventType{news.EventSubscriberConfirmed}, "whsec_AAAA", "b", time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			ids := make([]int64, b.N)
			for i := range ids {
				if ids[i], _, err = st.Subscribe(b.Context(), fmt.Sprintf("r%d@x.test", i), store.Prefs{Frequency: news.Daily, Lang: news.French}, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := st.Confirm(b.Context(), ids[i], "h", time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeliver measures the deliverer end to end on SQLite: claim,
// sign, POST to a loopback receiver, record; it reports events/s.
func BenchmarkDeliver(b *testing.B) {
	st, err := store.Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	rcv := webhooktest.New(b)
	if _, err := st.CreateWebhookEndpoint(b.Context(), rcv.URL(), []news.EventType{news.EventSubscriberConfirmed}, "whsec_AAAA", "b", time.Now()); err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		id, _, err := st.Subscribe(b.Context(), fmt.Sprintf("r%d@x.test", i), store.Prefs{Frequency: news.Daily, Lang: news.French}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Confirm(b.Context(), id, "h", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	d := webhook.New(webhook.Config{Store: st, Client: webhook.NewClient(netguard.Policy{AllowPrivate: true}), Owner: "bench", Batch: 16})
	b.ResetTimer()
	start := time.Now()
	for {
		n, err := d.RunOnce(b.Context(), b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if got, _ := rcv.Accepted(); len(got) != b.N {
		b.Fatalf("%d delivered, want %d", len(got), b.N)
	}
}
