package subscribe_test

import (
	"context"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
)

// TestExportShowsBounces: a reader's data (the API's view and their own
// download) says bounced with every bounce, newest first, soft ones too;
// unsubscribing a bounced reader leaves them bounced; no links email goes
// to a bounced or complained address.
func TestExportShowsBounces(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if err := f.svc.Subscribe(ctx, subscribe.Request{Email: "r@example.com", Topics: []string{"politique"}, Client: "c"}); err != nil {
		t.Fatal(err)
	}
	sub, err := f.st.SubscriberByEmail(ctx, "r@example.com")
	if err != nil {
		t.Fatal(err)
	}
	policy := store.SoftPolicy{Count: 3, Window: 15 * 24 * time.Hour}
	for i, b := range []store.Bounce{
		{Kind: store.BounceSoft, Status: "4.2.2", Diagnostic: "452 mailbox full"},
		{Kind: store.BounceHard, Status: "5.1.1", Diagnostic: "550 5.1.1 no such user"},
	} {
		b.SubscriberID, b.At, b.Source = sub.ID, f.now.Add(time.Duration(i)*time.Hour), "imap"
		if _, err := f.st.RecordBounce(ctx, b, f.svc.Hash, policy); err != nil {
			t.Fatal(err)
		}
	}
	d, err := f.svc.Export(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "bounced" || len(d.Bounces) != 2 || d.Bounces[0].Kind != "hard" || d.Bounces[0].Status != "5.1.1" ||
		d.Bounces[0].Diagnostic != "550 5.1.1 no such user" || d.Bounces[1].Kind != "soft" || !d.Bounces[1].At.Equal(f.now) {
		t.Fatalf("export %+v", d)
	}
	if err := f.svc.Unsubscribe(ctx, sub.ID, "one-click"); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.st.SubscriberByID(ctx, sub.ID); s.Status != news.Bounced {
		t.Fatalf("a bounced reader who unsubscribes is %s, want still bounced", s.Status)
	}
	if subscribe.LinksDeliverable(news.Bounced) || subscribe.LinksDeliverable(news.Complained) {
		t.Fatal("links would be emailed to a bounced or complained address")
	}
}
