package provider

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/bounce"
)

// SES verifies Amazon SES notifications delivered through an SNS topic:
// the SNS message signature (SignatureVersion 1, SHA1withRSA, or 2,
// SHA256withRSA) is checked against the signing certificate, fetched over
// https from an SNS host (sns.REGION.amazonaws.com) and nowhere else; the
// topic must be one of the configured ARNs, since anyone can sign SNS
// messages from a topic of their own. A SubscriptionConfirmation for a
// configured topic is confirmed by visiting its SubscribeURL (on an SNS
// host too). A message older than SESMaxAge is refused.
type SES struct {
	topics []string
	// Get fetches an SNS URL (the signing certificate, a SubscribeURL);
	// tests replace it to serve a test certificate.
	get func(ctx context.Context, url string) ([]byte, error)
	now func() time.Time

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

// SESMaxAge is how old an SNS message's Timestamp may be: SNS signs a
// message once and retries it unchanged for a while.
const SESMaxAge = time.Hour

// SESConfig configures SES.
type SESConfig struct {
	// TopicARNs are the SNS topics whose notifications are believed.
	TopicARNs []string
	// Get fetches an https URL on an SNS host; nil: an HTTP client with a
	// 10 s timeout.
	Get func(ctx context.Context, url string) ([]byte, error)
	Now func() time.Time
}

// NewSES returns the SES provider.
func NewSES(cfg SESConfig) *SES {
	p := &SES{topics: cfg.TopicARNs, get: cfg.Get, now: cfg.Now, certs: map[string]*x509.Certificate{}}
	if p.get == nil {
		c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		p.get = func(ctx context.Context, u string) ([]byte, error) { return httpGet(ctx, c, u) }
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

func httpGet(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<10))
}

// Name is "ses".
func (*SES) Name() string { return "ses" }

// snsHost is the host of every SNS URL crieur follows.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// certPath is the path of SNS's signing certificates: only those are
// fetched, so a caller cannot make crieur fetch other SNS URLs.
var certPath = regexp.MustCompile(`^/SimpleNotificationService-[A-Za-z0-9]{1,64}\.pem$`)

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.RawQuery != "" {
		return ""
	}
	return p.Path
}

// SNSURL reports whether u is an https URL on an SNS host, the only place
// a signing certificate or a subscription confirmation may come from.
func SNSURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "https" && p.User == nil && (p.Port() == "" || p.Port() == "443") && snsHost.MatchString(p.Hostname())
}

// snsMessage is an SNS HTTP(S) delivery.
type snsMessage struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token"`
	TopicArn         string `json:"TopicArn"`
	Subject          string `json:"Subject"`
	Message          string `json:"Message"`
	SubscribeURL     string `json:"SubscribeURL"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
}

// StringToSign is what SNS signs for m, as its documentation lays out:
// the named fields in order, each as "Name\nvalue\n"; Subject only when
// the message has one.
func (m snsMessage) StringToSign() string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == "Notification" {
		if m.Subject != "" {
			add("Subject", m.Subject)
		}
	} else {
		add("SubscribeURL", m.SubscribeURL)
	}
	add("Timestamp", m.Timestamp)
	if m.Type != "Notification" {
		add("Token", m.Token)
	}
	add("TopicArn", m.TopicArn)
	add("Type", m.Type)
	return b.String()
}

// Receive verifies an SNS delivery and reads the SES notification it
// carries, or confirms a subscription.
func (p *SES) Receive(ctx context.Context, _ http.Header, body []byte) ([]bounce.Report, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, ErrUnverified
	}
	if !slices.Contains(p.topics, m.TopicArn) {
		return nil, ErrUnverified
	}
	if err := p.verify(ctx, m); err != nil {
		return nil, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if !SNSURL(m.SubscribeURL) {
			return nil, ErrUnverified
		}
		if _, err := p.get(ctx, m.SubscribeURL); err != nil {
			return nil, fmt.Errorf("confirm SNS subscription: %w", err)
		}
		return nil, nil
	case "Notification":
		return ParseSESNotification([]byte(m.Message))
	}
	return nil, nil // UnsubscribeConfirmation: nothing to do
}

func (p *SES) verify(ctx context.Context, m snsMessage) error {
	var h crypto.Hash
	switch m.SignatureVersion {
	case "1":
		h = crypto.SHA1
	case "2":
		h = crypto.SHA256
	default:
		return ErrUnverified
	}
	at, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	if err != nil || p.now().Sub(at) > SESMaxAge || at.Sub(p.now()) > ReplayWindow {
		return ErrUnverified
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || !SNSURL(m.SigningCertURL) || !certPath.MatchString(pathOf(m.SigningCertURL)) {
		return ErrUnverified
	}
	cert, err := p.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return ErrUnverified
	}
	var sum []byte
	if h == crypto.SHA1 {
		s := sha1.Sum([]byte(m.StringToSign()))
		sum = s[:]
	} else {
		s := sha256.Sum256([]byte(m.StringToSign()))
		sum = s[:]
	}
	if rsa.VerifyPKCS1v15(pub, h, sum, sig) != nil {
		return ErrUnverified
	}
	return nil
}

// cert fetches (once) and parses the signing certificate at u. A
// certificate that cannot be fetched is an error the provider retries,
// not a refusal; one that does not parse or has expired refuses the call.
func (p *SES) cert(ctx context.Context, u string) (*x509.Certificate, error) {
	p.mu.Lock()
	c, ok := p.certs[u]
	p.mu.Unlock()
	if !ok {
		raw, err := p.get(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("fetch SNS signing certificate: %w", err)
		}
		blk, _ := pem.Decode(raw)
		if blk == nil {
			return nil, ErrUnverified
		}
		if c, err = x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, ErrUnverified
		}
		p.mu.Lock()
		if len(p.certs) > 100 {
			clear(p.certs)
		}
		p.certs[u] = c
		p.mu.Unlock()
	}
	if now := p.now(); now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, ErrUnverified
	}
	return c, nil
}

// sesNotification is an SES bounce or complaint notification (or event:
// eventType instead of notificationType).
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		Timestamp         string `json:"timestamp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint struct {
		Timestamp             string `json:"timestamp"`
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Mail struct {
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
}

// ParseSESNotification reads the SES notification an SNS message carries:
// Permanent bounces are hard (but a full mailbox, 5.2.2 or subtype
// MailboxFull, is soft), Transient and Undetermined ones soft, complaints
// complaints unless their feedback type is not-spam. Deliveries and other
// events are left out.
func ParseSESNotification(msg []byte) ([]bounce.Report, error) {
	var n sesNotification
	if err := json.Unmarshal(msg, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	msgID := n.Mail.CommonHeaders.MessageID
	var out []bounce.Report
	switch typ {
	case "Bounce":
		at := parseTime(n.Bounce.Timestamp)
		for _, r := range n.Bounce.BouncedRecipients {
			status := enhanced(r.Status)
			if status == "" {
				status = enhanced(r.DiagnosticCode)
			}
			kind := bounce.Soft
			if n.Bounce.BounceType == "Permanent" {
				kind = kindOfStatus(status, true)
				if n.Bounce.BounceSubType == "MailboxFull" {
					kind = bounce.Soft
				}
			}
			out = append(out, bounce.Report{Kind: kind, Recipient: r.EmailAddress, Status: status, Diagnostic: r.DiagnosticCode,
				At: at, Source: "ses", MessageID: msgID})
		}
	case "Complaint":
		if n.Complaint.ComplaintFeedbackType == "not-spam" {
			return nil, nil
		}
		at := parseTime(n.Complaint.Timestamp)
		for _, r := range n.Complaint.ComplainedRecipients {
			out = append(out, bounce.Report{Kind: bounce.Complaint, Recipient: r.EmailAddress, At: at, Source: "ses", MessageID: msgID})
		}
	}
	return out, nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
