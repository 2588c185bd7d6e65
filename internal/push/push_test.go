package push_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

func b64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// RFC 8291 Appendix A (and §5): keys, salt and the resulting body.
const (
	rfcPlaintext = "When I grow up, I want to be a watermelon"
	rfcASPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	rfcASPublic  = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
	rfcUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	rfcUAPublic  = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	rfcAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcSalt      = "DGv6ra1nlYgDCS1FRnbzlw"
	rfcBody      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS" +
		"6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qu" +
		"lcy4a-fN"
)

// rfcBrowser is the user agent of RFC 8291 Appendix A.
func rfcBrowser(tb testing.TB) *pushtest.Browser {
	tb.Helper()
	k, err := ecdh.P256().NewPrivateKey(b64(tb, rfcUAPrivate))
	if err != nil {
		tb.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()); got != rfcUAPublic {
		tb.Fatalf("ua public %s, want %s", got, rfcUAPublic)
	}
	return &pushtest.Browser{Key: k, AuthSecret: b64(tb, rfcAuth), P256dh: rfcUAPublic, Auth: rfcAuth}
}

func TestRFC8291AppendixA(t *testing.T) {
	t.Parallel()
	eph, err := ecdh.P256().NewPrivateKey(b64(t, rfcASPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(eph.PublicKey().Bytes()); got != rfcASPublic {
		t.Fatalf("as public %s, want %s", got, rfcASPublic)
	}
	ua, err := ecdh.P256().NewPublicKey(b64(t, rfcUAPublic))
	if err != nil {
		t.Fatal(err)
	}
	// The RFC's example uses rs=4096 and no padding.
	body, err := push.EncryptWith([]byte(rfcPlaintext), ua, b64(t, rfcAuth), eph, b64(t, rfcSalt), len(rfcPlaintext)+1)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(body); got != rfcBody {
		t.Fatalf("body\n got %s\nwant %s", got, rfcBody)
	}
	// And the RFC's receiver reads it with pushtest's independent decryptor.
	pt, err := rfcBrowser(t).Decrypt(b64(t, rfcBody))
	if err != nil || string(pt) != rfcPlaintext {
		t.Fatalf("pushtest decrypt of the RFC body = %q, %v", pt, err)
	}
}

func TestPaddingBuckets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ n, want int }{
		{0, 128}, {127, 128}, {128, 512}, {480, 512}, {511, 512}, {512, 1024},
		{1023, 1024}, {2047, 2048}, {2048, 3994}, {push.MaxPayload, 3994},
	} {
		if got, err := push.PaddedLen(tt.n); err != nil || got != tt.want {
			t.Errorf("PaddedLen(%d) = %d, %v; want %d", tt.n, got, err, tt.want)
		}
	}
	if _, err := push.PaddedLen(push.MaxPayload + 1); !errors.Is(err, push.ErrPayloadTooLarge) {
		t.Errorf("PaddedLen(Max+1) error %v", err)
	}
}

type fixture struct {
	srv    *pushtest.Server
	sender *push.Sender
	pub    string
}

// setup starts a pushtest server and a Sender for it.
func setup(tb testing.TB, mod func(*push.Config), opts ...pushtest.Option) fixture {
	tb.Helper()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		tb.Fatal(err)
	}
	srv := pushtest.NewServer(tb, pub, opts...)
	// The daemon's client: plain http goes through its HTTP/1.1 pool.
	client := push.NewHTTPClient(netguard.Policy{AllowPrivate: true}, 5*time.Second, 64)
	tb.Cleanup(client.CloseIdleConnections)
	cfg := push.Config{
		PrivateKey: priv, PublicKey: pub, Subject: "mailto:ops@example.com",
		Client: client, Timeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := push.NewSender(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return fixture{srv: srv, sender: s, pub: pub}
}

func payloadOf(n int) []byte {
	p := bytes.Repeat([]byte(`{"title":"Breaking","body":"x"}`), n/31+1)
	return p[:n]
}

func TestSenderDelivers(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := t.Context()
	for _, n := range []int{0, 1, 127, 480, 1000, 2048, push.MaxPayload} {
		b := pushtest.NewBrowser()
		sub := f.srv.Subscription(b)
		m := push.Message{Payload: payloadOf(n), TTL: 3600 * time.Second, Urgency: push.UrgencyHigh, Topic: push.TopicFor("alert-42")}
		if r := f.sender.Send(ctx, sub, m); r.Outcome != push.Delivered || r.Status != http.StatusCreated || r.Err != nil {
			t.Fatalf("payload %d: %+v", n, r)
		}
	}
	got, err := f.srv.Wait(7, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if errs := f.srv.Errors(); len(errs) > 0 {
		t.Fatalf("server errors: %v", errs)
	}
	wantBody := map[int]int{0: 230, 1: 230, 127: 230, 480: 614, 1000: 1126, 2048: 4096, push.MaxPayload: 4096}
	for i, n := range []int{0, 1, 127, 480, 1000, 2048, push.MaxPayload} {
		r := got[i]
		if !bytes.Equal(r.Payload, payloadOf(n)) {
			t.Errorf("message %d: payload %q", i, r.Payload)
		}
		if len(r.Body) != wantBody[n] {
			t.Errorf("payload %d: body %d bytes, want %d", n, len(r.Body), wantBody[n])
		}
		if r.TTL != time.Hour || r.Urgency != "high" || r.Topic != push.TopicFor("alert-42") {
			t.Errorf("message %d headers: TTL %v urgency %q topic %q", i, r.TTL, r.Urgency, r.Topic)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("Content-Type %q", ct)
		}
		// One JWT for the origin, reused.
		if r.Header.Get("Authorization") != got[0].Header.Get("Authorization") {
			t.Errorf("message %d: a new VAPID token for the same origin", i)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "vapid t=") || !strings.HasSuffix(r.Header.Get("Authorization"), ", k="+f.pub) {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
	}
	// Fresh ephemeral key and salt per message.
	if bytes.Equal(got[0].Body[:86], got[1].Body[:86]) {
		t.Error("two messages share salt and ephemeral key")
	}
}

func TestOptionalHeadersOmitted(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	b := pushtest.NewBrowser()
	if r := f.sender.Send(t.Context(), f.srv.Subscription(b), push.Message{Payload: []byte("hi")}); r.Outcome != push.Delivered {
		t.Fatalf("%+v", r)
	}
	got, err := f.srv.Wait(1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h := got[0].Header
	if h.Get("TTL") != "0" || h.Values("Urgency") != nil || h.Values("Topic") != nil {
		t.Errorf("headers %v", h)
	}
}

func TestVAPIDTokenPerOriginAndRefresh(t *testing.T) {
	t.Parallel()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv1 := pushtest.NewServer(t, pub)
	srv2 := pushtest.NewServer(t, pub)
	var clock atomic.Int64
	start := time.Now()
	s, err := push.NewSender(push.Config{
		PrivateKey: priv, PublicKey: pub, Subject: "https://news.example.com/contact",
		Client: srv1.Client(),
		Now:    func() time.Time { return start.Add(time.Duration(clock.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	b := pushtest.NewBrowser()
	send := func(srv *pushtest.Server) string {
		t.Helper()
		n := srv.Count()
		if r := s.Send(t.Context(), srv.Subscription(b), push.Message{Payload: []byte("x"), TTL: time.Minute}); r.Outcome != push.Delivered {
			t.Fatalf("%+v (server errors %v)", r, srv.Errors())
		}
		got, err := srv.Wait(n+1, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return got[n].Header.Get("Authorization")
	}
	a1 := send(srv1)
	b1 := send(srv2)
	if a1 == b1 {
		t.Fatal("two origins share a token (aud must differ)")
	}
	clock.Store(int64(10*time.Hour + 59*time.Minute))
	if a2 := send(srv1); a2 != a1 {
		t.Error("token re-signed before the refresh point")
	}
	clock.Store(int64(11*time.Hour + time.Minute))
	if a3 := send(srv1); a3 == a1 {
		t.Error("token not re-signed with less than 1 h left")
	}
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *push.Config) { c.Timeout = 300 * time.Millisecond })
	// The date is made when answering: HTTP dates have 1 s resolution.
	dateIn90s := func(int, *http.Request) (int, http.Header, time.Duration) {
		return 503, http.Header{"Retry-After": {time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)}}, 0
	}
	tests := []struct {
		name  string
		fault pushtest.Fault
		want  push.Outcome
		retry time.Duration // 0: exactly 0; >0: within 5 s below it
		code  int
	}{
		{"404", pushtest.Answer(404), push.Gone, 0, 404},
		{"410", pushtest.Answer(410), push.Gone, 0, 410},
		{"429 seconds", pushtest.Answer(429, "Retry-After", "30"), push.Retry, 30 * time.Second, 429},
		{"429 bare", pushtest.Answer(429), push.Retry, 0, 429},
		{"503 date", dateIn90s, push.Retry, 90 * time.Second, 503},
		{"500", pushtest.Answer(500), push.Retry, 0, 500},
		{"502 garbage retry-after", pushtest.Answer(502, "Retry-After", "soon"), push.Retry, 0, 502},
		{"400", pushtest.Answer(400), push.Failed, 0, 400},
		{"401", pushtest.Answer(401), push.Failed, 0, 401},
		{"403", pushtest.Answer(403), push.Failed, 0, 403},
		{"413", pushtest.Answer(413), push.Failed, 0, 413},
		// Not followed: the target would answer 404, which means "gone".
		{"307 not followed", pushtest.Answer(307, "Location", "/push/elsewhere"), push.Failed, 0, 307},
		{"reset", pushtest.Answer(pushtest.StatusReset), push.Retry, 0, 0},
		{"stall", func(int, *http.Request) (int, http.Header, time.Duration) { return 201, nil, 5 * time.Second }, push.Retry, 0, 0},
		{"second try succeeds", func(n int, _ *http.Request) (int, http.Header, time.Duration) {
			if n == 1 {
				return 503, nil, 0
			}
			return 0, nil, 0
		}, push.Retry, 0, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := pushtest.NewBrowser()
			sub := f.srv.Subscription(b)
			f.srv.SetFault(sub.Endpoint, tt.fault)
			r := f.sender.Send(t.Context(), sub, push.Message{Payload: []byte("x"), TTL: time.Minute})
			if r.Outcome != tt.want || r.Status != tt.code {
				t.Fatalf("got %v status %d (%v), want %v %d", r.Outcome, r.Status, r.Err, tt.want, tt.code)
			}
			if r.Err == nil {
				t.Error("no Err for a failed send")
			}
			if tt.retry == 0 && r.RetryAfter != 0 || tt.retry > 0 && (r.RetryAfter > tt.retry || r.RetryAfter < tt.retry-5*time.Second) {
				t.Errorf("RetryAfter %v, want %v", r.RetryAfter, tt.retry)
			}
			var se *push.StatusError
			if tt.code != 0 && (!errors.As(r.Err, &se) || se.StatusCode != tt.code) {
				t.Errorf("Err %v is not a StatusError %d", r.Err, tt.code)
			}
			if tt.name == "second try succeeds" {
				if r := f.sender.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Outcome != push.Delivered {
					t.Errorf("retry: %+v", r)
				}
			}
		})
	}
}

func TestGoneEndpoints(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	b := pushtest.NewBrowser()
	sub := f.srv.Subscription(b)
	f.srv.Unsubscribe(sub.Endpoint)
	if r := f.sender.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Outcome != push.Gone || r.Status != 410 {
		t.Errorf("unsubscribed: %+v", r)
	}
	sub.Endpoint = f.srv.URL() + "/push/unknown"
	if r := f.sender.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Outcome != push.Gone || r.Status != 404 {
		t.Errorf("unknown: %+v", r)
	}
}

func TestGlobalFault(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.srv.SetGlobalFault(pushtest.Answer(429, "Retry-After", "7"))
	b := pushtest.NewBrowser()
	for range 3 {
		r := f.sender.Send(t.Context(), f.srv.Subscription(b), push.Message{Payload: []byte("x")})
		if r.Outcome != push.Retry || r.RetryAfter != 7*time.Second {
			t.Fatalf("%+v", r)
		}
	}
	f.srv.SetGlobalFault(nil)
	if r := f.sender.Send(t.Context(), f.srv.Subscription(b), push.Message{Payload: []byte("x")}); r.Outcome != push.Delivered {
		t.Fatalf("%+v", r)
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	b := pushtest.NewBrowser()
	good := f.srv.Subscription(b)
	tests := []struct {
		name string
		sub  push.Subscription
		m    push.Message
		is   error
	}{
		{"negative TTL", good, push.Message{TTL: -time.Second}, push.ErrInvalidMessage},
		{"bad urgency", good, push.Message{Urgency: "urgent"}, push.ErrInvalidMessage},
		{"bad topic", good, push.Message{Topic: "has space"}, push.ErrInvalidMessage},
		{"long topic", good, push.Message{Topic: strings.Repeat("a", 33)}, push.ErrInvalidMessage},
		{"too large", good, push.Message{Payload: make([]byte, push.MaxPayload+1)}, push.ErrPayloadTooLarge},
		{"bad p256dh", push.Subscription{Endpoint: good.Endpoint, P256dh: "AAAA", Auth: b.Auth}, push.Message{}, push.ErrInvalidKeys},
		{"bad auth", push.Subscription{Endpoint: good.Endpoint, P256dh: b.P256dh, Auth: "AAAA"}, push.Message{}, push.ErrInvalidKeys},
		{"bad endpoint", push.Subscription{Endpoint: "ftp://x/y", P256dh: b.P256dh, Auth: b.Auth}, push.Message{}, nil},
		{"no endpoint", push.Subscription{P256dh: b.P256dh, Auth: b.Auth}, push.Message{}, nil},
	}
	for _, tt := range tests {
		r := f.sender.Send(t.Context(), tt.sub, tt.m)
		if r.Outcome != push.Failed || r.Err == nil || (tt.is != nil && !errors.Is(r.Err, tt.is)) {
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
	if n := f.srv.Count(); n != 0 {
		t.Errorf("%d messages reached the server", n)
	}
}

func TestDefaultClientRefusesPrivateEndpoints(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *push.Config) { c.Client = nil })
	b := pushtest.NewBrowser()
	sub := f.srv.Subscription(b) // http://127.0.0.1:port: refused by the strict policy
	r := f.sender.Send(t.Context(), sub, push.Message{Payload: []byte("x")})
	if r.Outcome != push.Failed || !errors.Is(r.Err, netguard.ErrNotAllowed) {
		t.Fatalf("%+v", r)
	}
	sub.Endpoint = strings.Replace(sub.Endpoint, "http:", "https:", 1)
	r = f.sender.Send(t.Context(), sub, push.Message{Payload: []byte("x")})
	if r.Outcome != push.Failed || !errors.Is(r.Err, netguard.ErrNotAllowed) {
		t.Fatalf("https loopback: %+v", r)
	}
}

// TestDefaultClientRefusesNameResolvingPrivate: an https endpoint whose
// host name resolves to loopback (a CRIEUR_PUSH_HOSTS name pointed at an
// internal address after it was accepted) is refused when the HTTP/2
// transport dials it, as the HTTP/1.1 one is.
func TestDefaultClientRefusesNameResolvingPrivate(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *push.Config) { c.Client = push.NewHTTPClient(netguard.Policy{}, 0, 0) })
	sub := f.srv.Subscription(pushtest.NewBrowser())
	sub.Endpoint = strings.Replace(strings.Replace(sub.Endpoint, "http:", "https:", 1), "127.0.0.1", "localhost", 1)
	r := f.sender.Send(t.Context(), sub, push.Message{Payload: []byte("x")})
	if r.Outcome != push.Failed || !errors.Is(r.Err, netguard.ErrNotAllowed) {
		t.Fatalf("%+v, want failed: not allowed", r)
	}
	if n := f.srv.Count(); n != 0 {
		t.Fatalf("%d messages reached the loopback server", n)
	}
}

func TestNetguardClientWithAllowPrivate(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *push.Config) { c.Client = netguard.Policy{AllowPrivate: true}.HTTPClient(5 * time.Second) })
	b := pushtest.NewBrowser()
	if r := f.sender.Send(t.Context(), f.srv.Subscription(b), push.Message{Payload: []byte("x")}); r.Outcome != push.Delivered {
		t.Fatalf("%+v", r)
	}
}

func TestSenderOverTLSHTTP2(t *testing.T) {
	t.Parallel()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := pushtest.NewTLSServer(t, pub)
	s, err := push.NewSender(push.Config{PrivateKey: priv, PublicKey: pub, Subject: "mailto:ops@example.com", Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	b := pushtest.NewBrowser()
	for range 5 {
		if r := s.Send(t.Context(), srv.Subscription(b), push.Message{Payload: []byte("over h2"), TTL: time.Minute}); r.Outcome != push.Delivered {
			t.Fatalf("%+v %v", r, srv.Errors())
		}
	}
	got, err := srv.Wait(5, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[4].Payload) != "over h2" {
		t.Fatalf("payload %q", got[4].Payload)
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	browsers := make([]*pushtest.Browser, 4)
	subs := make([]push.Subscription, 4)
	for i := range browsers {
		browsers[i] = pushtest.NewBrowser()
		subs[i] = f.srv.Subscription(browsers[i])
	}
	payload := []byte(`{"title":"shared payload"}`)
	const n = 200
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		wg.Go(func() {
			r := f.sender.Send(t.Context(), subs[i%4], push.Message{Payload: payload, TTL: time.Minute, Topic: push.TopicFor(fmt.Sprint(i))})
			if r.Outcome != push.Delivered {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d failed (server errors %v)", failed.Load(), f.srv.Errors())
	}
	got, err := f.srv.Wait(n, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if !bytes.Equal(r.Payload, payload) {
			t.Fatalf("payload %q", r.Payload)
		}
	}
}

func TestNewSenderValidates(t *testing.T) {
	t.Parallel()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	rawPriv, _ := base64.RawURLEncoding.DecodeString(priv)
	tests := []struct {
		name, priv, pub, subject string
		ok                       bool
	}{
		{"mailto", priv, pub, "mailto:ops@example.com", true},
		{"https", priv, pub, "https://news.example.com/", true},
		{"padded std key", base64.StdEncoding.EncodeToString(rawPriv), pub, "mailto:ops@example.com", true},
		{"double mailto", priv, pub, "mailto:mailto:ops@example.com", false},
		{"bare address", priv, pub, "ops@example.com", false},
		{"http", priv, pub, "http://news.example.com/", false},
		{"named address", priv, pub, "mailto:Ops <ops@example.com>", false},
		{"empty", priv, pub, "", false},
		{"mismatched keys", priv, otherPub, "mailto:ops@example.com", false},
		{"garbage key", "not base64!", pub, "mailto:ops@example.com", false},
		{"short key", "AAAA", pub, "mailto:ops@example.com", false},
	}
	for _, tt := range tests {
		_, err := push.NewSender(push.Config{PrivateKey: tt.priv, PublicKey: tt.pub, Subject: tt.subject})
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v", tt.name, err)
		}
	}
}

func TestGenerateVAPIDKeys(t *testing.T) {
	t.Parallel()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	if p := b64(t, priv); len(p) != 32 {
		t.Errorf("private key %d bytes", len(p))
	}
	if p := b64(t, pub); len(p) != 65 || p[0] != 4 {
		t.Errorf("public key %d bytes", len(p))
	}
}

func TestValidateSubscriptionKeys(t *testing.T) {
	t.Parallel()
	b := pushtest.NewBrowser()
	raw := b.Key.PublicKey().Bytes()
	offCurve := bytes.Clone(raw)
	offCurve[64] ^= 1
	auth := b.AuthSecret
	tests := []struct {
		name, p256dh, auth string
		ok                 bool
	}{
		{"raw url", b.P256dh, b.Auth, true},
		{"padded url", base64.URLEncoding.EncodeToString(raw), base64.URLEncoding.EncodeToString(auth), true},
		{"std", base64.StdEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(auth), true},
		{"raw std", base64.RawStdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(auth), true},
		{"rfc", rfcUAPublic, rfcAuth, true},
		{"off curve", base64.RawURLEncoding.EncodeToString(offCurve), b.Auth, false},
		{"compressed", base64.RawURLEncoding.EncodeToString(append([]byte{2}, raw[1:33]...)), b.Auth, false},
		{"short auth", b.P256dh, base64.RawURLEncoding.EncodeToString(auth[:15]), false},
		{"long auth", b.P256dh, base64.RawURLEncoding.EncodeToString(append(bytes.Clone(auth), 0)), false},
		{"empty", "", "", false},
		{"not base64", "!!!", b.Auth, false},
		{"identity", base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...)), b.Auth, false},
	}
	for _, tt := range tests {
		err := push.ValidateSubscriptionKeys(tt.p256dh, tt.auth)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
		if err != nil && !errors.Is(err, push.ErrInvalidKeys) {
			t.Errorf("%s: %v does not wrap ErrInvalidKeys", tt.name, err)
		}
	}
}

func TestTopicFor(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "alert-1", "Ünïcödé / spaces", strings.Repeat("x", 1000)} {
		got := push.TopicFor(s)
		if !push.ValidTopic(got) || len(got) != 32 {
			t.Errorf("TopicFor(%q) = %q", s, got)
		}
		if push.TopicFor(s) != got {
			t.Errorf("TopicFor(%q) not deterministic", s)
		}
	}
	if push.TopicFor("a") == push.TopicFor("b") {
		t.Error("distinct inputs, same topic")
	}
	for s, want := range map[string]bool{"": false, "abc_-XYZ09": true, "a=": false, "a+b": false, strings.Repeat("A", 32): true, strings.Repeat("A", 33): false} {
		if got := push.ValidTopic(s); got != want {
			t.Errorf("ValidTopic(%q) = %v", s, got)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                               0,
		"0":                              0,
		"-5":                             0,
		"120":                            2 * time.Minute,
		" 5 ":                            5 * time.Second,
		"999999999999":                   24 * time.Hour,
		"Sun, 01 Mar 2026 12:00:30 GMT":  30 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT":  0,
		"Sunday, 01-Mar-26 12:01:00 GMT": time.Minute,
		"tomorrow":                       0,
		"1.5":                            0,
	} {
		if got := push.RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	t.Parallel()
	for o, want := range map[push.Outcome]string{push.Delivered: "delivered", push.Gone: "gone", push.Retry: "retry", push.Failed: "failed", 0: "unknown"} {
		if o.String() != want {
			t.Errorf("%d: %q", o, o.String())
		}
	}
}

func TestSendHonoursContext(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	b := pushtest.NewBrowser()
	sub := f.srv.Subscription(b)
	f.srv.SetFault(sub.Endpoint, func(int, *http.Request) (int, http.Header, time.Duration) { return 0, nil, 10 * time.Second })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := f.sender.Send(ctx, sub, push.Message{Payload: []byte("x")})
	if r.Outcome != push.Retry || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("%+v", r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
}
