package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// scaleBase is the webpush-go baseline of the push-scale scenario.
type scaleBase struct {
	n, inFlight int
	stats       pushtest.Stats
	stub        sinkStats
	stubCPU     time.Duration
}

// runScaleBaseline sends n pushes with webpush-go v1.4.0 from the bench
// process to the same HTTP/2-over-TLS stub the daemon used (same latency,
// same streams limit), inFlight at once, as a publisher who wrote the
// loop themselves would: net/http's own transport, told to trust the
// stub's certificate and to speak HTTP/2 (ForceAttemptHTTP2, since a
// custom TLS config turns it off otherwise), nothing of crieur's. The
// payload is the daemon's JSON for the alert.
func runScaleBaseline(ctx context.Context, stub *child, certFile string, browsers []*pushtest.Browser,
	vpriv, vpub, alertID string, n, inFlight int) (scaleBase, error) {
	b := scaleBase{n: n, inFlight: inFlight}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		return b, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return b, fmt.Errorf("%s: no certificate", certFile)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}}
	defer client.CloseIdleConnections()
	payload, topic, err := alertPayload(alertID)
	if err != nil {
		return b, err
	}
	subs := make([]push.Subscription, len(browsers))
	for i, br := range browsers {
		subs[i] = push.Subscription{Endpoint: fmt.Sprintf("https://%s/push/base-%d", stub.Addr, i), P256dh: br.P256dh, Auth: br.Auth}
	}
	send := webpushSend(client, subs, vpriv, vpub, payload, topic)
	// No push before the measured loop: the daemon's alert started with
	// no connection either, so both pay for their TLS handshakes.
	if err := stub.Reset(); err != nil {
		return b, err
	}
	stub0 := procCPU(stub.cmd.Process.Pid)
	b.stats = pushtest.Measure(ctx, n, inFlight, send)
	b.stubCPU = procCPU(stub.cmd.Process.Pid) - stub0
	if b.stub, err = stub.Stats(); err != nil {
		return b, err
	}
	return b, nil
}

// alertPayload is what the daemon sends for alert id: dispatch.Pusher's
// JSON for benchAlert, and a Topic of 16 random bytes as alert.Service
// makes one. The payload has no spare capacity: webpush-go appends to the
// payload it is given, and concurrent sends would write into one array.
func alertPayload(id string) ([]byte, string, error) {
	tag := make([]byte, 16)
	rand.Read(tag)
	topic := base64.RawURLEncoding.EncodeToString(tag)
	payload, err := json.Marshal(dispatch.Payload{Title: benchAlert.Title, Body: benchAlert.Body, URL: benchAlert.URL,
		Image: benchAlert.ImageURL, AlertID: id, Tag: topic})
	if err != nil {
		return nil, "", fmt.Errorf("alert payload: %w", err)
	}
	return payload[:len(payload):len(payload)], topic, nil
}
