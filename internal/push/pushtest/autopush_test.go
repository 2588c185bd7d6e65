package pushtest_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// fakeBrowser is a browser's push client over the WebSocket protocol, with
// a pushtest.Browser's keys for the subscription.
type fakeBrowser struct {
	t    *testing.T
	c    *websocket.Conn
	uaid string
	keys *pushtest.Browser
}

// wsMsg is any protocol message, both directions.
type wsMsg struct {
	MessageType  string            `json:"messageType,omitempty"`
	UAID         string            `json:"uaid,omitempty"`
	Status       int               `json:"status,omitempty"`
	UseWebPush   bool              `json:"use_webpush,omitempty"`
	ChannelID    string            `json:"channelID,omitempty"`
	Key          string            `json:"key,omitempty"`
	PushEndpoint string            `json:"pushEndpoint,omitempty"`
	Version      string            `json:"version,omitempty"`
	Data         string            `json:"data,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Updates      []map[string]any  `json:"updates,omitempty"`
}

func dial(t *testing.T, ap *pushtest.Autopush, uaid string) *fakeBrowser {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, ap.WebSocketURL(), &websocket.DialOptions{Subprotocols: []string{pushtest.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != pushtest.Subprotocol {
		t.Fatalf("subprotocol %q", p)
	}
	t.Cleanup(func() { c.CloseNow() })
	b := &fakeBrowser{t: t, c: c, keys: pushtest.NewBrowser()}
	b.send(map[string]any{"messageType": "hello", "uaid": uaid, "broadcasts": map[string]any{}, "use_webpush": true})
	h := b.read()
	if h.MessageType != "hello" || h.Status != 200 || len(h.UAID) != 32 || !h.UseWebPush {
		t.Fatalf("hello reply %+v", h)
	}
	b.uaid = h.UAID
	return b
}

func (b *fakeBrowser) send(v any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.t.Context(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, b.c, v); err != nil {
		b.t.Fatal(err)
	}
}

func (b *fakeBrowser) read() wsMsg {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.t.Context(), 5*time.Second)
	defer cancel()
	var m wsMsg
	if err := wsjson.Read(ctx, b.c, &m); err != nil {
		b.t.Fatal(err)
	}
	return m
}

// register subscribes a channel with applicationServerKey key, padded the
// way Firefox sends it, and returns the push endpoint.
func (b *fakeBrowser) register(channelID, key string) string {
	b.t.Helper()
	raw, _ := base64.RawURLEncoding.DecodeString(key)
	b.send(wsMsg{MessageType: "register", ChannelID: channelID, Key: base64.URLEncoding.EncodeToString(raw)})
	r := b.read()
	if r.MessageType != "register" || r.Status != 200 || r.ChannelID != channelID || r.PushEndpoint == "" {
		b.t.Fatalf("register reply %+v", r)
	}
	return r.PushEndpoint
}

// receive reads one notification, decrypts it and acks it with code.
func (b *fakeBrowser) receive(code int) (wsMsg, []byte) {
	b.t.Helper()
	n := b.read()
	if n.MessageType != "notification" || n.Headers["encoding"] != "aes128gcm" {
		b.t.Fatalf("notification %+v", n)
	}
	body, err := base64.RawURLEncoding.DecodeString(n.Data)
	if err != nil {
		b.t.Fatalf("data: %v", err)
	}
	pt, err := b.keys.Decrypt(body)
	if err != nil {
		b.t.Fatal(err)
	}
	b.send(wsMsg{MessageType: "ack", Updates: []map[string]any{{"channelID": n.ChannelID, "version": n.Version, "code": code}}})
	return n, pt
}

func newSender(t *testing.T) (*push.Sender, string) {
	t.Helper()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	// A transport of its own: httptest.Server.Close in a parallel test
	// closes http.DefaultTransport's idle connections under our requests.
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	s, err := push.NewSender(push.Config{PrivateKey: priv, PublicKey: pub, Subject: "mailto:ops@example.com", Client: client})
	if err != nil {
		t.Fatal(err)
	}
	return s, pub
}

func TestAutopushDeliversAndRecordsAcks(t *testing.T) {
	t.Parallel()
	ap := pushtest.NewAutopush(t)
	s, pub := newSender(t)
	b := dial(t, ap, "")
	ep := b.register("5b4e5d8a-0c6f-4a41-9d1e-4f1f7c8e2a01", pub)
	if !strings.HasPrefix(ep, ap.URL()+"/") || len(ap.Endpoints()) != 1 {
		t.Fatalf("endpoint %q, endpoints %v", ep, ap.Endpoints())
	}
	sub := push.Subscription{Endpoint: ep, P256dh: b.keys.P256dh, Auth: b.keys.Auth}

	// Ping.
	b.send(struct{}{})
	if m := b.read(); m.MessageType != "" {
		t.Fatalf("ping answered %+v", m)
	}

	r := s.Send(t.Context(), sub, push.Message{Payload: []byte(`{"title":"Flash"}`), TTL: time.Minute, Urgency: "high", Topic: "t1"})
	if r.Outcome != push.Delivered || r.Status != 201 {
		t.Fatalf("%+v", r)
	}
	n, pt := b.receive(pushtest.AckDelivered)
	if string(pt) != `{"title":"Flash"}` {
		t.Fatalf("payload %q", pt)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	k, err := ap.WaitAck(ctx, n.Version)
	if err != nil || k.Code != pushtest.AckDelivered || k.ChannelID != n.ChannelID {
		t.Fatalf("ack %+v %v", k, err)
	}
	sent := ap.Sent()
	if len(sent) != 1 || sent[0].Version != n.Version || sent[0].TTL != time.Minute || sent[0].Urgency != "high" || sent[0].Topic != "t1" {
		t.Fatalf("sent %+v", sent)
	}

	// A browser that cannot decrypt says so.
	if r := s.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Outcome != push.Delivered {
		t.Fatalf("%+v", r)
	}
	n2, _ := b.receive(pushtest.AckDecryptFailed)
	if k, err := ap.WaitAck(ctx, n2.Version); err != nil || k.Code != pushtest.AckDecryptFailed {
		t.Fatalf("ack %+v %v", k, err)
	}
	if errs := ap.Errors(); len(errs) != 0 {
		t.Fatal(errs)
	}

	// Unregistered: 410, which crieur takes as "remove the subscription".
	b.send(wsMsg{MessageType: "unregister", ChannelID: n.ChannelID})
	if m := b.read(); m.MessageType != "unregister" || m.Status != 200 {
		t.Fatalf("unregister reply %+v", m)
	}
	if r := s.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Outcome != push.Gone || r.Status != 410 {
		t.Fatalf("after unregister: %+v", r)
	}
}

func TestAutopushRefusesOtherVAPIDKey(t *testing.T) {
	t.Parallel()
	ap := pushtest.NewAutopush(t)
	s, _ := newSender(t)
	_, otherPub := newSender(t)
	b := dial(t, ap, "")
	ep := b.register("1d7a4f0e-2b3c-4d5e-8f90-a1b2c3d4e5f6", otherPub) // subscribed for another server
	r := s.Send(t.Context(), push.Subscription{Endpoint: ep, P256dh: b.keys.P256dh, Auth: b.keys.Auth}, push.Message{Payload: []byte("x")})
	if r.Status != 401 || len(ap.Errors()) != 1 || len(ap.Sent()) != 0 {
		t.Fatalf("%+v, errors %v", r, ap.Errors())
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Post(ap.URL()+"/wpush/no-such-channel", "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown channel: %d", resp.StatusCode)
	}
}

func TestAutopushKeepsMessagesForAnAbsentBrowser(t *testing.T) {
	t.Parallel()
	ap := pushtest.NewAutopush(t)
	s, pub := newSender(t)
	b := dial(t, ap, "")
	ep := b.register("0f0e0d0c-0b0a-4909-8807-060504030201", pub)
	ap.Disconnect()
	sub := push.Subscription{Endpoint: ep, P256dh: b.keys.P256dh, Auth: b.keys.Auth}
	// Two messages with the same Topic: only the newer one is kept.
	for _, p := range []string{"old", "new"} {
		if r := s.Send(t.Context(), sub, push.Message{Payload: []byte(p), TTL: time.Hour, Topic: "same"}); r.Outcome != push.Delivered {
			t.Fatalf("%+v", r)
		}
	}
	b2 := dial(t, ap, b.uaid) // the same browser, back online
	if b2.uaid != b.uaid {
		t.Fatalf("uaid changed: %s → %s", b.uaid, b2.uaid)
	}
	b2.keys = b.keys
	if _, pt := b2.receive(pushtest.AckDelivered); string(pt) != "new" {
		t.Fatalf("got %q", pt)
	}
	if other := dial(t, ap, "not-one-of-ours"); other.uaid == b.uaid {
		t.Fatal("unknown uaid kept")
	}

	// After a Reset the browser is a stranger and its endpoint is gone.
	ap.Reset()
	if b3 := dial(t, ap, b.uaid); b3.uaid == b.uaid {
		t.Fatal("uaid kept across Reset")
	}
	if r := s.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Status != 410 {
		t.Fatalf("after Reset: %+v", r)
	}
}
