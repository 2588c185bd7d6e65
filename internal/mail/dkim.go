package mail

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/textproto"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimHeaders are the header fields signed when present, in this order. Both
// List-Unsubscribe headers must be covered for RFC 8058 one-click to count.
var dkimHeaders = [...]string{
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID",
}

// DKIM signs messages for one domain and selector with an RSA key
// (rsa-sha256, relaxed/relaxed). It is safe for concurrent use.
//
// go-mail v0.8.1 has its own DKIM signer, but it folds the h= tag inside a
// header name once the list is long, which breaks verification; this one
// uses github.com/emersion/go-msgauth.
type DKIM struct {
	domain   string
	selector string
	key      *rsa.PrivateKey
}

// LoadDKIM reads a PEM RSA private key (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY") from keyFile for signing as domain with selector.
func LoadDKIM(domain, selector, keyFile string) (*DKIM, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("dkim: read key: %w", err)
	}
	key, err := parseRSAKey(data)
	if err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", keyFile, err)
	}
	return NewDKIM(domain, selector, key)
}

// NewDKIM returns a signer for domain and selector with an RSA key of at
// least 1024 bits (2048 recommended).
func NewDKIM(domain, selector string, key *rsa.PrivateKey) (*DKIM, error) {
	if domain == "" || selector == "" {
		return nil, errors.New("dkim: domain and selector are required")
	}
	if err := checkControls("dkim", domain+selector); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	if key == nil || key.N.BitLen() < 1024 {
		return nil, errors.New("dkim: an RSA key of at least 1024 bits is required")
	}
	return &DKIM{domain: strings.ToLower(domain), selector: selector, key: key}, nil
}

func parseRSAKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#1 key: %w", err)
		}
		return key, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#8 key: %w", err)
		}
		key, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PKCS#8 key is %T, want RSA", k)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
}

// Domain returns the signing domain (d=).
func (d *DKIM) Domain() string { return d.domain }

// Selector returns the selector (s=).
func (d *DKIM) Selector() string { return d.selector }

// TXTRecord returns the DNS TXT record to publish at
// SELECTOR._domainkey.DOMAIN: "v=DKIM1; k=rsa; p=…".
func (d *DKIM) TXTRecord() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&d.key.PublicKey)
	if err != nil {
		return "", fmt.Errorf("dkim: marshal public key: %w", err)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
}

// Sign returns raw with a DKIM-Signature header prepended. It signs those of
// From, To, Subject, Date, Message-ID, MIME-Version, Content-Type, List-Id,
// List-Unsubscribe, List-Unsubscribe-Post and Feedback-ID that raw carries.
func (d *DKIM) Sign(raw []byte) ([]byte, error) {
	keys, err := presentHeaders(raw)
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	signer, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 d.domain,
		Selector:               d.selector,
		Signer:                 d.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	if _, err := signer.Write(raw); err != nil {
		_ = signer.Close()
		return nil, fmt.Errorf("dkim: sign: %w", err)
	}
	if err := signer.Close(); err != nil {
		return nil, fmt.Errorf("dkim: sign: %w", err)
	}
	sig := signer.Signature()
	out := make([]byte, 0, len(sig)+len(raw))
	out = append(out, sig...)
	return append(out, raw...), nil
}

// presentHeaders returns the dkimHeaders that raw's header carries; From must
// be one of them.
func presentHeaders(raw []byte) ([]string, error) {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, errors.New("message has no header/body separator (CRLF CRLF)")
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw[:end+4]))).ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	keys := make([]string, 0, len(dkimHeaders))
	for _, k := range dkimHeaders {
		if _, ok := h[textproto.CanonicalMIMEHeaderKey(k)]; ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 || keys[0] != "From" {
		return nil, errors.New("message has no From header")
	}
	return keys, nil
}
