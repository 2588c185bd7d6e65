package push_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// Benchmarks compare, per message: the RFC 8291 encryption floor, crieur's
// Sender and a plain webpush-go v1.4.0 loop, both against the same loopback
// pushtest server answering 201 without decrypting (CountOnly), at
// concurrency 8, with a 480-byte payload. CPU is the whole process's
// (getrusage), so the stub's share is included in both.
//
//	go test -run='^$' -bench=. -benchtime=20000x ./internal/push
//	CRIEUR_BENCH_N=20000 go test -run=TestSideBySide -v ./internal/push

const (
	benchWorkers = 8
	benchPayload = 480
)

func reportStats(b *testing.B, st pushtest.Stats) {
	b.Helper()
	if st.Errors > 0 {
		b.Fatalf("%d errors", st.Errors)
	}
	b.ReportMetric(st.MsgsPerSec(), "msgs/s")
	b.ReportMetric(float64(st.CPUPerMsg().Nanoseconds())/1e3, "cpu-µs/msg")
}

// encryptFloor returns a send func doing only RFC 8291 encryption: a fresh
// ephemeral key, salt, ECDH, HKDF and AES-GCM per message.
func encryptFloor(tb testing.TB) func(context.Context, int) error {
	tb.Helper()
	br := pushtest.NewBrowser()
	ua := br.Key.PublicKey()
	payload := payloadOf(benchPayload)
	pad, err := push.PaddedLen(len(payload))
	if err != nil {
		tb.Fatal(err)
	}
	return func(context.Context, int) error {
		eph, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		var salt [16]byte
		_, _ = rand.Read(salt[:])
		_, err = push.EncryptWith(payload, ua, br.AuthSecret, eph, salt[:], pad)
		return err
	}
}

// crieurSend returns a send func using push.Sender against a counting stub.
func crieurSend(tb testing.TB) func(context.Context, int) error {
	tb.Helper()
	f := setup(tb, nil, pushtest.CountOnly())
	subs := benchSubs(f.srv, 64)
	payload := payloadOf(benchPayload)
	return func(ctx context.Context, i int) error {
		r := f.sender.Send(ctx, subs[i%len(subs)], push.Message{Payload: payload, TTL: time.Hour, Urgency: push.UrgencyHigh, Topic: "alert"})
		if r.Outcome != push.Delivered {
			return fmt.Errorf("%v: %w", r.Outcome, r.Err)
		}
		return nil
	}
}

// webpushGoSend returns a send func using webpush-go with one shared tuned
// client against a counting stub.
func webpushGoSend(tb testing.TB) func(context.Context, int) error {
	tb.Helper()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		tb.Fatal(err)
	}
	srv := pushtest.NewServer(tb, pub, pushtest.CountOnly())
	subs := benchSubs(srv, 64)
	payload := payloadOf(benchPayload)
	payload = payload[:len(payload):len(payload)] // webpush-go appends to it
	client := srv.Client()
	return func(ctx context.Context, i int) error {
		s := subs[i%len(subs)]
		resp, err := webpush.SendNotificationWithContext(ctx, payload,
			&webpush.Subscription{Endpoint: s.Endpoint, Keys: webpush.Keys{P256dh: s.P256dh, Auth: s.Auth}},
			&webpush.Options{HTTPClient: client, Subscriber: "ops@example.com", VAPIDPublicKey: pub, VAPIDPrivateKey: priv,
				TTL: 3600, Urgency: webpush.UrgencyHigh, Topic: "alert"})
		if err != nil {
			return err
		}
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

func benchSubs(srv *pushtest.Server, n int) []push.Subscription {
	subs := make([]push.Subscription, n)
	for i := range subs {
		subs[i] = srv.Subscription(pushtest.NewBrowser())
	}
	return subs
}

func BenchmarkEncrypt(b *testing.B) {
	send := encryptFloor(b)
	b.ResetTimer()
	reportStats(b, pushtest.Measure(b.Context(), b.N, 1, send))
}

func BenchmarkSender(b *testing.B) {
	send := crieurSend(b)
	_ = send(b.Context(), 0) // sign the JWT, open a connection
	b.ResetTimer()
	reportStats(b, pushtest.Measure(b.Context(), b.N, benchWorkers, send))
}

func BenchmarkWebpushGo(b *testing.B) {
	send := webpushGoSend(b)
	_ = send(b.Context(), 0)
	b.ResetTimer()
	reportStats(b, pushtest.Measure(b.Context(), b.N, benchWorkers, send))
}

// TestSideBySide prints the three measurements and their ratios for a
// `make bench` report. It runs only when CRIEUR_BENCH_N (messages per run)
// is set.
func TestSideBySide(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CRIEUR_BENCH_N"))
	if n <= 0 {
		t.Skip("set CRIEUR_BENCH_N=20000 to run")
	}
	ctx := t.Context()
	warm := func(send func(context.Context, int) error) func(context.Context, int) error {
		for i := range 100 {
			_ = send(ctx, i)
		}
		return send
	}
	floor := pushtest.Measure(ctx, n, 1, warm(encryptFloor(t)))
	crieur := pushtest.Measure(ctx, n, benchWorkers, warm(crieurSend(t)))
	wp := pushtest.Measure(ctx, n, benchWorkers, warm(webpushGoSend(t)))
	t.Logf("payload %d bytes, concurrency %d, loopback stub (CountOnly), CPU = whole process (getrusage)", benchPayload, benchWorkers)
	t.Logf("encrypt floor : %v", floor)
	t.Logf("crieur Sender : %v", crieur)
	t.Logf("webpush-go    : %v", wp)
	t.Logf("throughput crieur/webpush-go: %.2fx (target >= 1.8x)", crieur.MsgsPerSec()/wp.MsgsPerSec())
	t.Logf("CPU/msg crieur/floor: %.2fx (target <= 1.7x)", float64(crieur.CPUPerMsg())/float64(floor.CPUPerMsg()))
	if crieur.Errors+wp.Errors+floor.Errors > 0 {
		t.Errorf("errors: %d %d %d", floor.Errors, crieur.Errors, wp.Errors)
	}
}

// BenchmarkEncryptKeys is encrypt alone with a fixed ephemeral key and
// salt: the ECDH with the browser's key, the key derivation and AES-GCM,
// without generating a key pair.
func BenchmarkEncryptKeys(b *testing.B) {
	br := pushtest.NewBrowser()
	ua := br.Key.PublicKey()
	payload := payloadOf(benchPayload)
	pad, err := push.PaddedLen(len(payload))
	if err != nil {
		b.Fatal(err)
	}
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	salt := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := push.EncryptWith(payload, ua, br.AuthSecret, eph, salt, pad); err != nil {
			b.Fatal(err)
		}
	}
}
