// Package providertest signs webhook calls the way each sending provider
// does, with test keys, for the tests of the provider package, of the
// webhook route and end to end.
package providertest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// SNS signs SNS deliveries with a test key whose self-signed certificate
// it serves at CertURL through Get.
type SNS struct {
	CertURL string
	key     *rsa.PrivateKey
	certPEM []byte

	mu      sync.Mutex
	visited []string
}

// NewSNS makes a key and a certificate valid around now.
func NewSNS(t testing.TB, now time.Time) *SNS {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &SNS{CertURL: "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem", key: key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Get serves the certificate at CertURL and records every other URL
// fetched (subscription confirmations).
func (s *SNS) Get(_ context.Context, u string) ([]byte, error) {
	if u == s.CertURL {
		return s.certPEM, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visited = append(s.visited, u)
	return []byte("<ConfirmSubscriptionResponse/>"), nil
}

// Visited lists the URLs other than the certificate that Get served.
func (s *SNS) Visited() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.visited...)
}

// Message is an SNS delivery's fields.
type Message struct {
	Type, MessageID, Token, TopicArn, Subject, Message, SubscribeURL, Timestamp string
	SignatureVersion, Signature, SigningCertURL                                 string
}

// StringToSign is what SNS signs, per its documentation ("Verifying the
// signatures of Amazon SNS messages"): for a Notification Message,
// MessageId, Subject (when present), Timestamp, TopicArn, Type; for a
// subscription confirmation Message, MessageId, SubscribeURL, Timestamp,
// Token, TopicArn, Type; each as name, newline, value, newline.
func (m Message) StringToSign() string {
	pairs := [][2]string{{"Message", m.Message}, {"MessageId", m.MessageID}}
	if m.Type == "Notification" {
		if m.Subject != "" {
			pairs = append(pairs, [2]string{"Subject", m.Subject})
		}
		pairs = append(pairs, [2]string{"Timestamp", m.Timestamp}, [2]string{"TopicArn", m.TopicArn}, [2]string{"Type", m.Type})
	} else {
		pairs = append(pairs, [2]string{"SubscribeURL", m.SubscribeURL}, [2]string{"Timestamp", m.Timestamp},
			[2]string{"Token", m.Token}, [2]string{"TopicArn", m.TopicArn}, [2]string{"Type", m.Type})
	}
	s := ""
	for _, p := range pairs {
		s += p[0] + "\n" + p[1] + "\n"
	}
	return s
}

// Notification builds a signed SignatureVersion 2 notification of topic
// carrying msg, timestamped at.
func (s *SNS) Notification(t testing.TB, topic, msg string, at time.Time) []byte {
	t.Helper()
	return s.Sign(t, Message{Type: "Notification", MessageID: fmt.Sprint("m-", at.UnixNano()), TopicArn: topic, Message: msg,
		Timestamp: at.UTC().Format("2006-01-02T15:04:05.000Z"), SignatureVersion: "2"})
}

// Sign fills the certificate URL (when empty) and the signature of m and
// returns its JSON.
func (s *SNS) Sign(t testing.TB, m Message) []byte {
	t.Helper()
	if m.SigningCertURL == "" {
		m.SigningCertURL = s.CertURL
	}
	h := crypto.SHA256
	if m.SignatureVersion == "1" {
		h = crypto.SHA1
	}
	d := h.New()
	d.Write([]byte(m.StringToSign()))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, h, d.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	out := map[string]string{"Type": m.Type, "MessageId": m.MessageID, "TopicArn": m.TopicArn, "Message": m.Message,
		"Timestamp": m.Timestamp, "SignatureVersion": m.SignatureVersion, "Signature": m.Signature, "SigningCertURL": m.SigningCertURL}
	if m.Subject != "" {
		out["Subject"] = m.Subject
	}
	if m.Type != "Notification" {
		out["Token"], out["SubscribeURL"] = m.Token, m.SubscribeURL
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SendGrid signs event batches as SendGrid's Signed Event Webhook does.
type SendGrid struct {
	// PublicKey is the verification key as SendGrid shows it: base64 DER.
	PublicKey string
	key       *ecdsa.PrivateKey
}

// NewSendGrid makes a P-256 key pair.
func NewSendGrid(t testing.TB) *SendGrid {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &SendGrid{PublicKey: base64.StdEncoding.EncodeToString(der), key: k}
}

// Headers are the signature headers for body sent at at: the ECDSA
// signature (base64 ASN.1 DER) of SHA-256(timestamp + body).
func (s *SendGrid) Headers(t testing.TB, body []byte, at time.Time) http.Header {
	t.Helper()
	ts := strconv.FormatInt(at.Unix(), 10)
	sum := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(sig))
	h.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
	return h
}

// Mailgun wraps event (an event-data JSON object) in a webhook body signed
// with key at at: the hex HMAC-SHA256 of timestamp+token.
func Mailgun(t testing.TB, key string, event []byte, at time.Time) []byte {
	t.Helper()
	tok := make([]byte, 25)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + token))
	b, err := json.Marshal(map[string]any{
		"signature":  map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(m.Sum(nil))},
		"event-data": json.RawMessage(event),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Postmark is the Authorization header Postmark sends for a webhook URL
// carrying user:pass.
func Postmark(userPass string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(userPass)))
	return h
}
