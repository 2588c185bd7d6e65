package mail_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// newDKIM writes the test key in the given PEM form and loads it.
func newDKIM(tb testing.TB, pkcs8 bool) *mail.DKIM {
	tb.Helper()
	key := rsaKey(tb)
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	if pkcs8 {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			tb.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	path := filepath.Join(tb.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		tb.Fatal(err)
	}
	d, err := mail.LoadDKIM("news.example.com", "crieur2025", path)
	if err != nil {
		tb.Fatalf("LoadDKIM: %v", err)
	}
	return d
}

// verifyDKIM checks raw's single signature against d's public key and
// returns the signed header list.
func verifyDKIM(tb testing.TB, d *mail.DKIM, raw []byte) []string {
	tb.Helper()
	txt, err := d.TXTRecord()
	if err != nil {
		tb.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "crieur2025._domainkey.news.example.com" {
				tb.Errorf("looked up %q", domain)
			}
			return []string{txt}, nil
		},
	})
	if err != nil {
		tb.Fatalf("dkim.Verify: %v", err)
	}
	if len(vs) != 1 || vs[0].Err != nil {
		tb.Fatalf("verifications = %+v (err %v)", vs, vs[0].Err)
	}
	if vs[0].Domain != "news.example.com" {
		tb.Errorf("d= %q", vs[0].Domain)
	}
	return vs[0].HeaderKeys
}

var fullHeaderList = []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID"}

func TestDKIMSignVerify(t *testing.T) {
	t.Parallel()
	for _, pkcs8 := range []bool{false, true} {
		d := newDKIM(t, pkcs8)
		signed, err := d.Sign(mustBytes(t, digest("reader@example.org")))
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !bytes.HasPrefix(signed, []byte("DKIM-Signature: ")) {
			t.Fatalf("no DKIM-Signature first: %.60q", signed)
		}
		keys := verifyDKIM(t, d, signed)
		if !slices.EqualFunc(keys, fullHeaderList, strings.EqualFold) {
			t.Errorf("h= %v, want %v", keys, fullHeaderList)
		}
		sig := string(signed[:bytes.Index(signed, []byte("\r\n\r\n"))])
		for _, tag := range []string{"a=rsa-sha256", "c=relaxed/relaxed", "s=crieur2025", "d=news.example.com"} {
			if !strings.Contains(sig, tag) {
				t.Errorf("signature lacks %s", tag)
			}
		}
		// Tampering with a signed header breaks the signature.
		tampered := bytes.Replace(signed, []byte("List-Unsubscribe: <https://news.example.com/"), []byte("List-Unsubscribe: <https://evil.example.com/"), 1)
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) {
			txt, _ := d.TXTRecord()
			return []string{txt}, nil
		}})
		if err != nil || len(vs) != 1 || vs[0].Err == nil {
			t.Errorf("tampered message verified: %v %+v", err, vs)
		}
	}
}

func TestDKIMOnlyPresentHeaders(t *testing.T) {
	t.Parallel()
	d := newDKIM(t, false)
	m := digest("reader@example.org")
	m.ListID, m.FeedbackID, m.ListUnsubscribe = "", "", ""
	signed, err := d.Sign(mustBytes(t, m))
	if err != nil {
		t.Fatal(err)
	}
	keys := verifyDKIM(t, d, signed)
	want := []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}
	if !slices.EqualFunc(keys, want, strings.EqualFold) {
		t.Errorf("h= %v, want %v", keys, want)
	}
}

func TestDKIMVerifiesAfterSMTP(t *testing.T) {
	t.Parallel()
	d := newDKIM(t, true)
	srv := mailtest.NewServer(t)
	signed, err := d.Sign(mustBytes(t, digest("reader@example.org")))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := mail.NewSMTP(srv.URL(), mail.SMTPOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tr.NewSender(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), "bounces@news.example.com", "reader@example.org", signed); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(1, 5*time.Second)[0]
	if !bytes.Equal(got.Raw, signed) {
		t.Errorf("bytes changed in transit (%d vs %d)", len(got.Raw), len(signed))
	}
	verifyDKIM(t, d, got.Raw)
}

func TestLoadDKIMErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notKey := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(notKey, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing.pem"), notKey} {
		if _, err := mail.LoadDKIM("example.com", "s", p); err == nil {
			t.Errorf("LoadDKIM(%s) succeeded", p)
		}
	}
}

func BenchmarkDKIMSign(b *testing.B) {
	d := newDKIM(b, false)
	raw := mustBytes(b, digest("reader@example.org"))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := d.Sign(raw); err != nil {
			b.Fatal(err)
		}
	}
}
