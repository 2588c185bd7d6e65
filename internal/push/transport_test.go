package push_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// sendMany sends n pushes to srv, inFlight at a time, through a Sender on
// the client the daemon builds (NewHTTPClient), and returns how many were
// delivered and how many TCP connections srv accepted.
func sendMany(t *testing.T, h2 bool, n, inFlight int) (delivered, conns int64) {
	t.Helper()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // a service a little away: requests overlap
		w.WriteHeader(http.StatusCreated)
	}))
	srv.EnableHTTP2 = h2
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 100}
	srv.StartTLS()
	defer srv.Close()

	client := push.NewHTTPClient(netguard.Policy{AllowPrivate: true}, 0, inFlight)
	push.TrustRoots(client, srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs)
	s, err := push.NewSender(push.Config{PrivateKey: priv, PublicKey: pub, Subject: "mailto:ops@example.com", Client: client})
	if err != nil {
		t.Fatal(err)
	}
	b := pushtest.NewBrowser()
	sub := push.Subscription{Endpoint: srv.URL + "/push/1", P256dh: b.P256dh, Auth: b.Auth}
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range inFlight {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				r := s.Send(context.Background(), sub, push.Message{Payload: []byte(`{"title":"t"}`), TTL: time.Minute})
				if r.Outcome == push.Delivered {
					atomic.AddInt64(&delivered, 1)
				} else {
					t.Errorf("send: %v %v", r.Outcome, r.Err)
				}
			}
		})
	}
	wg.Wait()
	return delivered, accepted.Load()
}

// An HTTP/2 push service gets the requests in flight on a few shared
// connections: 150 in flight at 100 streams a connection need two, where
// net/http's own pool dialled one per waiting request.
func TestSenderSharesHTTP2Connections(t *testing.T) {
	delivered, conns := sendMany(t, true, 600, 150)
	if delivered != 600 {
		t.Errorf("delivered %d of 600", delivered)
	}
	if conns < 2 || conns > 3 {
		t.Errorf("the sender opened %d connections for 150 requests in flight at 100 streams each, want 2 (3 at most)", conns)
	}
}

// A TLS push service that does not offer h2 still gets every push, over
// HTTP/1.1.
func TestSenderFallsBackToHTTP1(t *testing.T) {
	delivered, _ := sendMany(t, false, 100, 10)
	if delivered != 100 {
		t.Errorf("delivered %d of 100", delivered)
	}
}
