package pushtest_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// sample sends one real message to b and returns its body.
func sample(tb testing.TB, b *pushtest.Browser, payload []byte) []byte {
	tb.Helper()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		tb.Fatal(err)
	}
	srv := pushtest.NewServer(tb, pub)
	s, err := push.NewSender(push.Config{PrivateKey: priv, PublicKey: pub, Subject: "mailto:ops@example.com", Client: srv.Client()})
	if err != nil {
		tb.Fatal(err)
	}
	if r := s.Send(tb.Context(), srv.Subscription(b), push.Message{Payload: payload}); r.Outcome != push.Delivered {
		tb.Fatalf("%+v", r)
	}
	got, err := srv.Wait(1, time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	return got[0].Body
}

func TestDecryptRejectsTampering(t *testing.T) {
	t.Parallel()
	b := pushtest.NewBrowser()
	body := sample(t, b, []byte("hello"))
	if pt, err := b.Decrypt(body); err != nil || string(pt) != "hello" {
		t.Fatalf("%q %v", pt, err)
	}
	// Not rs (bytes 16..19): it is not authenticated, and any rs >= the
	// record's length is valid.
	for _, i := range []int{0, 15, 20, 30, 86, len(body) - 1} {
		bad := bytes.Clone(body)
		bad[i] ^= 0x40
		if _, err := b.Decrypt(bad); !errors.Is(err, pushtest.ErrDecrypt) {
			t.Errorf("flipped byte %d: %v", i, err)
		}
	}
	if _, err := pushtest.NewBrowser().Decrypt(body); err == nil {
		t.Error("another browser decrypted the message")
	}
}

func TestCountOnly(t *testing.T) {
	t.Parallel()
	_, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := pushtest.NewServer(t, pub, pushtest.CountOnly())
	resp, err := srv.Client().Post(srv.URL()+"/push/anything", "application/octet-stream", bytes.NewReader([]byte("junk")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || srv.Count() != 1 || len(srv.Received()) != 0 {
		t.Fatalf("status %d count %d", resp.StatusCode, srv.Count())
	}
}

func TestServerRefusesBadVAPID(t *testing.T) {
	t.Parallel()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := pushtest.NewServer(t, otherPub) // expects another key
	s, err := push.NewSender(push.Config{PrivateKey: priv, PublicKey: pub, Subject: "mailto:ops@example.com", Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	b := pushtest.NewBrowser()
	r := s.Send(t.Context(), srv.Subscription(b), push.Message{Payload: []byte("x")})
	if r.Outcome != push.Failed || r.Status != 401 || len(srv.Errors()) != 1 {
		t.Fatalf("%+v, errors %v", r, srv.Errors())
	}
}

func FuzzDecrypt(f *testing.F) {
	b := pushtest.NewBrowser()
	f.Add(sample(f, b, []byte("seed")))
	f.Add([]byte{})
	f.Add(make([]byte, 21))
	f.Add(append(make([]byte, 20), 65))
	f.Fuzz(func(t *testing.T, body []byte) {
		pt, err := b.Decrypt(body)
		if err == nil && len(pt) > len(body) {
			t.Fatalf("%d-byte plaintext from a %d-byte body", len(pt), len(body))
		}
		if err != nil && !errors.Is(err, pushtest.ErrDecrypt) {
			t.Fatalf("error %v does not wrap ErrDecrypt", err)
		}
	})
}
