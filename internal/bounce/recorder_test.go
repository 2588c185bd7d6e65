package bounce_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

func setup(t *testing.T) (*store.Store, *bounce.Store, *[]news.Status, time.Time) {
	t.Helper()
	st := storetest.SQLite(t)
	now := time.Now().Truncate(time.Millisecond)
	var changes []news.Status
	rec := bounce.NewStore(bounce.StoreConfig{Store: st, Hash: func(e string) string { return "h-" + e },
		Soft: store.SoftPolicy{Count: 3, Window: 15 * 24 * time.Hour}, Now: func() time.Time { return now },
		OnChange: func(_ context.Context, _ int64, became news.Status, _ bounce.Report) {
			changes = append(changes, became)
		}})
	return st, rec, &changes, now
}

// TestRecorder: a report finds its reader by address whatever its case;
// one about nobody is Unmatched and changes nothing; OnChange hears once
// that a reader became bounced; a report dated in the future counts as
// now; a diagnostic in another charset is stored as valid UTF-8 and cut.
func TestRecorder(t *testing.T) {
	t.Parallel()
	st, rec, changes, now := setup(t)
	ctx := context.Background()
	id, _, err := st.Subscribe(ctx, "lectrice@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, now)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := rec.Record(ctx, bounce.Report{Kind: bounce.Hard, Recipient: "nobody@x.test", Source: "ses"}); err != nil || out != bounce.Unmatched {
		t.Fatalf("unknown recipient: %s %v", out, err)
	}
	long := "\xe9chec " + strings.Repeat("x", 2000)
	out, err := rec.Record(ctx, bounce.Report{Kind: bounce.Hard, Recipient: " Lectrice@X.test ", Status: "5.1.1", Diagnostic: long,
		At: now.Add(48 * time.Hour), Source: "sendgrid"})
	if err != nil || out != bounce.Applied {
		t.Fatalf("hard bounce: %s %v", out, err)
	}
	if out, err := rec.Record(ctx, bounce.Report{Kind: bounce.Hard, SubscriberID: id, Status: "5.1.1", At: now.Add(48 * time.Hour), Source: "sendgrid"}); err != nil || out != bounce.Ignored {
		t.Fatalf("the same report again: %s %v", out, err)
	}
	if len(*changes) != 1 || (*changes)[0] != news.Bounced {
		t.Fatalf("OnChange heard %v, want [bounced]", *changes)
	}
	bs, err := st.Bounces(ctx, id, 5)
	if err != nil || len(bs) != 1 || !bs[0].At.Equal(now) || len([]rune(bs[0].Diagnostic)) != 500 || !strings.HasPrefix(bs[0].Diagnostic, "\uFFFDchec") {
		t.Fatalf("history %+v %v", bs, err)
	}
	if _, err := rec.Record(ctx, bounce.Report{Kind: "maybe", SubscriberID: id}); err == nil {
		t.Fatal("a report of unknown kind was taken")
	}
	sub, _ := st.SubscriberByID(ctx, id)
	if sub.Status != news.Bounced {
		t.Fatalf("status %s", sub.Status)
	}
	if got := value(t, counter(t, rec, "crieur_bounce_reports_total", map[string]string{"source": "sendgrid", "kind": "hard", "outcome": "applied"})); got != 1 {
		t.Fatalf("applied counted %v", got)
	}
}

// TestPark: a parked report keeps its first 64 KiB and its size; its
// source and reason are metric labels only when known (bounded series).
func TestPark(t *testing.T) {
	t.Parallel()
	st, rec, _, _ := setup(t)
	ctx := context.Background()
	raw := bytes.Repeat([]byte("a"), bounce.MaxParked+10)
	if err := rec.Park(ctx, "smtp", bounce.ParkBadToken, raw); err != nil {
		t.Fatal(err)
	}
	if err := rec.Park(ctx, "made-up-source", "a reason nobody planned", []byte("x")); err != nil {
		t.Fatal(err)
	}
	ps, n, err := st.ParkedReports(ctx, 5)
	if err != nil || n != 2 {
		t.Fatalf("%d parked, %v", n, err)
	}
	p, err := st.ParkedReport(ctx, ps[1].ID)
	if err != nil || len(p.Raw) != bounce.MaxParked || p.Size != int64(len(raw)) || p.Reason != bounce.ParkBadToken {
		t.Fatalf("parked %d bytes of %d, reason %q, %v", len(p.Raw), p.Size, p.Reason, err)
	}
	if got := value(t, counter(t, rec, "crieur_bounce_parked_total", map[string]string{"source": "smtp", "reason": "forged_token"})); got != 1 {
		t.Fatalf("forged tokens counted %v", got)
	}
	if got := value(t, counter(t, rec, "crieur_bounce_parked_total", map[string]string{"source": "other", "reason": "other"})); got != 1 {
		t.Fatalf("unknown source and reason counted %v under other", got)
	}
}

func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// counter finds the series of name with labels among rec's collectors.
func counter(t *testing.T, rec *bounce.Store, name string, labels map[string]string) prometheus.Counter {
	t.Helper()
	for _, c := range rec.Collectors() {
		if v, ok := c.(*prometheus.CounterVec); ok {
			if m, err := v.GetMetricWith(labels); err == nil && strings.Contains(m.Desc().String(), `"`+name+`"`) {
				return m
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

// TestRecorderMessageID: a report quoting only the original Message-ID is
// matched through StoreConfig.MessageIDs to its delivery, so it counts
// against that digest run.
func TestRecorderMessageID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _, now := setup(t)
	id, _, err := st.Subscribe(ctx, "r@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, now)
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := st.CreateRun(ctx, news.Daily, now, "test")
	if err != nil {
		t.Fatal(err)
	}
	var del int64
	if err := st.DB().QueryRowContext(ctx, "INSERT INTO deliveries (kind, run_id, subscriber_id, state, next_attempt_at, created_at) VALUES ('digest', ?, ?, 'sent', 0, 0) RETURNING id", run, id).Scan(&del); err != nil {
		t.Fatal(err)
	}
	rec := bounce.NewStore(bounce.StoreConfig{Store: st, Soft: store.SoftPolicy{Count: 3, Window: time.Hour},
		MessageIDs: func(_ context.Context, m string) (int64, bool) { return del, m == "<d1@journal.example>" }})
	if out, err := rec.Record(ctx, bounce.Report{Kind: bounce.Complaint, MessageID: "<d1@journal.example>", Source: "ses"}); err != nil || out != bounce.Applied {
		t.Fatalf("complaint by Message-ID: %s %v", out, err)
	}
	bs, err := st.Bounces(ctx, id, 5)
	if err != nil || len(bs) != 1 || bs[0].RunID != run || bs[0].DeliveryID != del {
		t.Fatalf("history %+v %v", bs, err)
	}
}
