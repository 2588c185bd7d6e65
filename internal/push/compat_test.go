package push_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
	"github.com/crieur/crieur/internal/testenv"
)

// webpush-go, the reference implementation, sends to pushtest: this validates
// pushtest's VAPID check and decryption, and that GenerateVAPIDKeys' format
// is the one webpush-go reads.
func TestWebpushGoToPushtest(t *testing.T) {
	t.Parallel()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := pushtest.NewServer(t, pub)
	for _, payload := range [][]byte{[]byte("x"), payloadOf(480), payloadOf(3000)} {
		b := pushtest.NewBrowser()
		sub := srv.Subscription(b)
		resp, err := webpush.SendNotificationWithContext(t.Context(), payload[:len(payload):len(payload)],
			&webpush.Subscription{Endpoint: sub.Endpoint, Keys: webpush.Keys{P256dh: sub.P256dh, Auth: sub.Auth}},
			&webpush.Options{
				HTTPClient:      srv.Client(),
				Subscriber:      "ops@example.com", // webpush-go adds mailto: itself
				VAPIDPublicKey:  pub,
				VAPIDPrivateKey: priv,
				TTL:             120,
				Urgency:         webpush.UrgencyHigh,
				Topic:           push.TopicFor("webpush-go"),
			})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d, server errors %v", resp.StatusCode, srv.Errors())
		}
	}
	got, err := srv.Wait(3, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{[]byte("x"), payloadOf(480), payloadOf(3000)} {
		if !bytes.Equal(got[i].Payload, want) || got[i].TTL != 2*time.Minute || got[i].Urgency != "high" {
			t.Errorf("message %d: %d bytes, TTL %v, urgency %q", i, len(got[i].Payload), got[i].TTL, got[i].Urgency)
		}
	}
	if errs := srv.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
}

// nodeModules finds the npm tree holding http_ece, or reports it missing.
func nodeModules(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CRIEUR_NODE_MODULES")
	if dir == "" {
		dir = filepath.Join("testdata", "node_modules")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "http_ece", "ece.js")); err != nil {
		testenv.Missing(t, "http_ece (npm ci --prefix internal/push/testdata)")
	}
	return abs
}

type eceCase struct {
	Body string `json:"body"`
	Key  string `json:"key"`
	Auth string `json:"auth"`
}

type eceResult struct {
	Payload string `json:"payload"`
	Error   string `json:"error"`
}

// The npm package http_ece, an RFC 8188/8291 implementation nobody here
// wrote, decrypts what the Sender sends, and refuses a tampered body.
func TestHTTPECEDecryptsSenderMessages(t *testing.T) {
	t.Parallel()
	modules := nodeModules(t)
	node := testenv.LookPath(t, "node", "nodejs")

	f := setup(t, nil)
	sizes := []int{0, 1, 126, 127, 128, 480, 511, 512, 1000, 2047, 2048, push.MaxPayload}
	var cases []eceCase
	for _, n := range sizes {
		b := pushtest.NewBrowser()
		if r := f.sender.Send(t.Context(), f.srv.Subscription(b), push.Message{Payload: payloadOf(n), TTL: time.Minute}); r.Outcome != push.Delivered {
			t.Fatalf("send %d: %+v", n, r)
		}
		got, err := f.srv.Wait(len(cases)+1, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, eceCase{
			Body: base64.RawURLEncoding.EncodeToString(got[len(cases)].Body),
			Key:  base64.RawURLEncoding.EncodeToString(b.Key.Bytes()),
			Auth: b.Auth,
		})
	}
	// The RFC 8291 example, and a tampered copy of the last message.
	rfc := rfcBrowser(t)
	cases = append(cases, eceCase{Body: rfcBody, Key: base64.RawURLEncoding.EncodeToString(rfc.Key.Bytes()), Auth: rfcAuth})
	tampered := b64(t, cases[len(sizes)-1].Body)
	tampered[len(tampered)-20] ^= 1
	cases = append(cases, eceCase{Body: base64.RawURLEncoding.EncodeToString(tampered), Key: cases[len(sizes)-1].Key, Auth: cases[len(sizes)-1].Auth})

	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "ece_decrypt.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var res []eceResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(cases) {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, n := range sizes {
		if res[i].Error != "" || !bytes.Equal(b64(t, res[i].Payload), payloadOf(n)) {
			t.Errorf("http_ece, %d-byte payload: %q %q", n, res[i].Payload, res[i].Error)
		}
	}
	if got := res[len(sizes)]; got.Error != "" || string(b64(t, got.Payload)) != rfcPlaintext {
		t.Errorf("http_ece, RFC example: %+v", got)
	}
	if got := res[len(sizes)+1]; got.Error == "" {
		t.Error("http_ece decrypted a tampered body")
	}
}
