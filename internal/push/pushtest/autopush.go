package pushtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/crieur/crieur/internal/push"
)

// Ack codes a browser sends back for a notification (Mozilla's push
// protocol). A service worker whose push handler fails is reported with a
// nack instead, whose code is recorded the same way.
const (
	// AckDelivered: the browser decrypted the message and handed it to the
	// service worker.
	AckDelivered = 100
	// AckDecryptFailed: the browser could not decrypt the message.
	AckDecryptFailed = 101
	// AckNotDelivered: the browser dropped the message for another reason.
	AckNotDelivered = 102
)

// Subprotocol is the WebSocket subprotocol of Mozilla's push protocol.
const Subprotocol = "push-notification"

// Notification is a message an application server posted to an Autopush
// endpoint, as the Autopush forwarded it to the browser.
type Notification struct {
	// Endpoint is the push endpoint the message was posted to.
	Endpoint string
	// ChannelID names the subscription in the browser; Version names this
	// message in the protocol (and in the browser's ack).
	ChannelID, Version string
	// Body is the encrypted request body, as sent on to the browser.
	Body []byte
	// TTL is the TTL header.
	TTL time.Duration
	// Urgency and Topic are the headers of those names, "" when absent.
	Urgency, Topic string
	// Header is the whole request header.
	Header http.Header
}

// Ack is a browser's answer to a notification.
type Ack struct {
	ChannelID, Version string
	// Code is AckDelivered, AckDecryptFailed, AckNotDelivered or a nack code.
	Code int
}

// Autopush is a push service for real browsers: it speaks Mozilla's
// WebSocket push protocol (hello, register, unregister, notification, ack,
// nack, ping; subprotocol "push-notification") on "/", which is what
// Firefox's dom.push.serverURL pref points at, and gives every registered
// channel an RFC 8030 endpoint (POST /wpush/{channelID}) where an
// application server sends messages. A message is checked like Server does
// (VAPID signed with the key the browser registered with, Content-Encoding,
// TTL, Urgency, Topic, size), answered 201 and forwarded, still encrypted,
// to the browser; a browser that is not connected gets it when it says
// hello again. The browser's acks are recorded: AckDelivered means it
// decrypted the message and its service worker handled it.
//
// It serves plain http and ws on 127.0.0.1.
type Autopush struct {
	// HTTP is the underlying test server.
	HTTP *httptest.Server

	origin string

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every recorded event
	uaids    map[string]bool
	conns    map[string]*websocket.Conn // uaid → live connection
	channels map[string]*apChannel
	pending  map[string][]Notification // uaid → not yet handed to a browser
	sent     []Notification
	acks     []Ack
	errs     []error
}

// apChannel is one registration: a subscription in the browser.
type apChannel struct {
	uaid  string
	vapid *Server // nil when registered without an applicationServerKey
	gone  bool
}

// NewAutopush starts an Autopush on 127.0.0.1; it is closed, and its
// browsers disconnected, when the test ends.
func NewAutopush(tb testing.TB) *Autopush {
	tb.Helper()
	a := &Autopush{
		changed:  make(chan struct{}),
		uaids:    map[string]bool{},
		conns:    map[string]*websocket.Conn{},
		channels: map[string]*apChannel{},
		pending:  map[string][]Notification{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.serveWS)
	mux.HandleFunc("/wpush/{channel}", a.servePush)
	a.HTTP = httptest.NewServer(mux)
	a.origin = a.HTTP.URL
	tb.Cleanup(func() {
		a.Disconnect()
		a.HTTP.Close()
	})
	return a
}

// URL is the Autopush's origin, e.g. http://127.0.0.1:34567.
func (a *Autopush) URL() string { return a.origin }

// WebSocketURL is what a browser's push client connects to (Firefox's
// dom.push.serverURL), e.g. ws://127.0.0.1:34567/.
func (a *Autopush) WebSocketURL() string {
	return "ws" + strings.TrimPrefix(a.origin, "http") + "/"
}

// Disconnect closes every browser connection, as a network failure would.
// Messages posted meanwhile are kept until the browser says hello again.
func (a *Autopush) Disconnect() {
	a.mu.Lock()
	conns := a.conns
	a.conns = map[string]*websocket.Conn{}
	a.mu.Unlock()
	for _, c := range conns {
		c.CloseNow()
	}
}

// Reset forgets every browser and subscription, as a push service that lost
// its state would: browsers are disconnected, get a new uaid when they say
// hello again (and so drop their subscriptions and fire
// pushsubscriptionchange), and the old endpoints answer 410 Gone.
func (a *Autopush) Reset() {
	a.mu.Lock()
	a.uaids = map[string]bool{}
	a.pending = map[string][]Notification{}
	for _, ch := range a.channels {
		ch.gone = true
	}
	a.notifyLocked()
	a.mu.Unlock()
	a.Disconnect()
}

// Endpoints returns the push endpoints of the channels registered and not
// unregistered.
func (a *Autopush) Endpoints() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for id, ch := range a.channels {
		if !ch.gone {
			out = append(out, a.endpoint(id))
		}
	}
	return out
}

// Sent returns a copy of the messages accepted so far, in arrival order.
func (a *Autopush) Sent() []Notification {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Notification(nil), a.sent...)
}

// Acks returns a copy of the browser's acks and nacks so far.
func (a *Autopush) Acks() []Ack {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Ack(nil), a.acks...)
}

// Errors returns the requests and protocol messages the Autopush refused as
// malformed, as errors; a test expecting none checks it is empty.
func (a *Autopush) Errors() []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]error(nil), a.errs...)
}

// Wait waits until cond, called under no lock, is true or ctx ends; cond
// is re-checked after every event the Autopush records (a registration, a
// message, an ack, an unregistration).
func (a *Autopush) Wait(ctx context.Context, cond func() bool) error {
	for {
		a.mu.Lock()
		ch := a.changed
		a.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("pushtest: autopush: %w", ctx.Err())
		}
	}
}

// WaitAck waits for the browser's ack (or nack) of the message with this
// version and returns it.
func (a *Autopush) WaitAck(ctx context.Context, version string) (Ack, error) {
	var got Ack
	err := a.Wait(ctx, func() bool {
		for _, k := range a.Acks() {
			if k.Version == version {
				got = k
				return true
			}
		}
		return false
	})
	return got, err
}

// notifyLocked wakes Wait; a.mu must be held.
func (a *Autopush) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *Autopush) record(err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err)
	a.notifyLocked()
	a.mu.Unlock()
}

func (a *Autopush) endpoint(channelID string) string {
	return a.origin + "/wpush/" + channelID
}

// clientMsg is any message a browser sends; "{}" is a ping.
type clientMsg struct {
	MessageType string   `json:"messageType"`
	UAID        string   `json:"uaid"`
	ChannelID   string   `json:"channelID"`
	ChannelIDs  []string `json:"channelIDs"`
	Key         string   `json:"key"`
	Version     string   `json:"version"`
	Code        int      `json:"code"`
	Updates     []struct {
		ChannelID string `json:"channelID"`
		Version   string `json:"version"`
		Code      int    `json:"code"`
	} `json:"updates"`
}

// wireNotification is the notification message on the wire.
type wireNotification struct {
	MessageType string            `json:"messageType"`
	ChannelID   string            `json:"channelID"`
	Version     string            `json:"version"`
	Data        string            `json:"data"`
	Headers     map[string]string `json:"headers"`
}

func (a *Autopush) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{Subprotocol},
		// A browser's push client sends no Origin, or its own chrome one.
		InsecureSkipVerify: true,
	})
	if err != nil {
		a.record(fmt.Errorf("pushtest: autopush: accept: %w", err))
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 10)
	ctx := r.Context()
	uaid := ""
	defer func() {
		a.mu.Lock()
		if uaid != "" && a.conns[uaid] == c {
			delete(a.conns, uaid)
		}
		a.mu.Unlock()
	}()
	for {
		var m clientMsg
		if err := wsjson.Read(ctx, c, &m); err != nil {
			return // the browser went away, or Disconnect
		}
		var reply any
		switch m.MessageType {
		case "":
			reply = struct{}{} // ping
		case "hello":
			uaid = a.hello(c, m.UAID)
			reply = map[string]any{"messageType": "hello", "uaid": uaid, "status": 200,
				"use_webpush": true, "broadcasts": map[string]string{}}
		case "register":
			reply = a.register(uaid, m.ChannelID, m.Key)
		case "unregister":
			a.unregister(uaid, m.ChannelID)
			reply = map[string]any{"messageType": "unregister", "channelID": m.ChannelID, "status": 200}
		case "ack":
			a.mu.Lock()
			for _, u := range m.Updates {
				a.acks = append(a.acks, Ack{ChannelID: u.ChannelID, Version: u.Version, Code: u.Code})
			}
			a.notifyLocked()
			a.mu.Unlock()
		case "nack":
			a.mu.Lock()
			k := Ack{Version: m.Version, Code: m.Code}
			for _, n := range a.sent {
				if n.Version == m.Version {
					k.ChannelID = n.ChannelID
				}
			}
			a.acks = append(a.acks, k)
			a.notifyLocked()
			a.mu.Unlock()
		default:
			// broadcast_subscribe and anything newer: not needed here.
		}
		if reply != nil {
			if err := wsjson.Write(ctx, c, reply); err != nil {
				return
			}
		}
		if m.MessageType == "hello" {
			a.flush(ctx, uaid)
		}
	}
}

// hello identifies the browser: a uaid this Autopush gave out is kept, any
// other gets a new one (which tells the browser to drop its old
// subscriptions). A second connection with the same uaid replaces the first.
func (a *Autopush) hello(c *websocket.Conn, uaid string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.uaids[uaid] {
		uaid = randomHex(16)
		a.uaids[uaid] = true
	}
	if old := a.conns[uaid]; old != nil && old != c {
		old.CloseNow()
	}
	a.conns[uaid] = c
	return uaid
}

func (a *Autopush) register(uaid, channelID, key string) map[string]any {
	reply := map[string]any{"messageType": "register", "channelID": channelID}
	if uaid == "" || channelID == "" {
		a.record(fmt.Errorf("pushtest: autopush: register %q before hello or without channelID", channelID))
		reply["status"] = 401
		return reply
	}
	ch := &apChannel{uaid: uaid}
	if key != "" {
		raw, err := decodeB64(key)
		var pub *ecdsa.PublicKey
		if err == nil {
			pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		}
		if err != nil {
			a.record(fmt.Errorf("pushtest: autopush: register %s: applicationServerKey: %w", channelID, err))
			reply["status"] = 400
			return reply
		}
		// A Server holding only the key checks VAPID exactly as
		// Server does, with this Autopush's origin as the audience.
		ch.vapid = &Server{vapidKey: pub, vapidB64: raw, origin: a.origin, verified: map[string]time.Time{}}
	}
	a.mu.Lock()
	a.channels[channelID] = ch
	a.notifyLocked()
	a.mu.Unlock()
	reply["status"] = 200
	reply["pushEndpoint"] = a.endpoint(channelID)
	return reply
}

func (a *Autopush) unregister(uaid, channelID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch := a.channels[channelID]; ch != nil && ch.uaid == uaid {
		ch.gone = true
		a.notifyLocked()
	}
}

// flush hands the browser what was posted while it was away.
func (a *Autopush) flush(ctx context.Context, uaid string) {
	a.mu.Lock()
	queue := a.pending[uaid]
	delete(a.pending, uaid)
	c := a.conns[uaid]
	a.mu.Unlock()
	for i, n := range queue {
		if c == nil || a.forward(ctx, c, n) != nil {
			a.mu.Lock()
			a.pending[uaid] = append(queue[i:], a.pending[uaid]...)
			a.mu.Unlock()
			return
		}
	}
}

func (a *Autopush) forward(ctx context.Context, c *websocket.Conn, n Notification) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return wsjson.Write(ctx, c, wireNotification{
		MessageType: "notification",
		ChannelID:   n.ChannelID,
		Version:     n.Version,
		Data:        base64.RawURLEncoding.EncodeToString(n.Body),
		Headers:     map[string]string{"encoding": "aes128gcm"},
	})
}

func (a *Autopush) servePush(w http.ResponseWriter, r *http.Request) {
	defer r.Body.Close()
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	id := r.PathValue("channel")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRead))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	ch := a.channels[id]
	a.mu.Unlock()
	switch {
	case ch == nil:
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	case ch.gone:
		http.Error(w, "unsubscribed", http.StatusGone)
		return
	}
	n, status, err := a.check(r, body, ch)
	if err != nil {
		a.record(err)
		http.Error(w, err.Error(), status)
		return
	}
	n.ChannelID, n.Version, n.Endpoint = id, randomHex(16), a.endpoint(id)

	a.mu.Lock()
	a.sent = append(a.sent, n)
	c := a.conns[ch.uaid]
	if c == nil {
		a.queueLocked(ch.uaid, n)
	}
	a.notifyLocked()
	a.mu.Unlock()
	if c != nil && a.forward(r.Context(), c, n) != nil {
		a.mu.Lock()
		a.queueLocked(ch.uaid, n)
		a.mu.Unlock()
	}
	w.Header().Set("Location", a.origin+"/m/"+n.Version)
	w.Header().Set("TTL", strconv.FormatInt(int64(n.TTL/time.Second), 10))
	w.WriteHeader(http.StatusCreated)
}

// queueLocked keeps n for a browser that is away; a pending message with the
// same Topic on the same channel is replaced (RFC 8030 §5.4).
func (a *Autopush) queueLocked(uaid string, n Notification) {
	q := a.pending[uaid]
	if n.Topic != "" {
		for i, p := range q {
			if p.ChannelID == n.ChannelID && p.Topic == n.Topic {
				q[i] = n
				return
			}
		}
	}
	a.pending[uaid] = append(q, n)
}

// check verifies one request as a strict push service would; the body stays
// encrypted (only the browser holds the keys).
func (a *Autopush) check(r *http.Request, body []byte, ch *apChannel) (Notification, int, error) {
	if ch.vapid != nil {
		if err := ch.vapid.checkVAPID(r.Header.Get("Authorization")); err != nil {
			return Notification{}, http.StatusUnauthorized, err
		}
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return Notification{}, http.StatusBadRequest, fmt.Errorf("pushtest: autopush: Content-Encoding %q", ce)
	}
	ttlh := r.Header.Get("TTL")
	ttl, err := strconv.ParseInt(ttlh, 10, 64)
	if err != nil || ttl < 0 {
		return Notification{}, http.StatusBadRequest, fmt.Errorf("pushtest: autopush: TTL %q", ttlh)
	}
	urg := r.Header.Get("Urgency")
	if urg != "" && !push.ValidUrgency(urg) {
		return Notification{}, http.StatusBadRequest, fmt.Errorf("pushtest: autopush: Urgency %q", urg)
	}
	topic := r.Header.Get("Topic")
	if topic != "" && !push.ValidTopic(topic) {
		return Notification{}, http.StatusBadRequest, fmt.Errorf("pushtest: autopush: Topic %q", topic)
	}
	if len(body) > maxBody {
		return Notification{}, http.StatusRequestEntityTooLarge, fmt.Errorf("pushtest: autopush: body over %d bytes", maxBody)
	}
	if len(body) == 0 {
		return Notification{}, http.StatusBadRequest, errors.New("pushtest: autopush: empty body")
	}
	return Notification{
		Body:    body,
		TTL:     time.Duration(ttl) * time.Second,
		Urgency: urg,
		Topic:   topic,
		Header:  r.Header.Clone(),
	}, 0, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
