package mail_test

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"testing"
)

// parts decodes a composed message's To and its two parts' bodies.
func parts(t *testing.T, raw []byte) (to string, bodies []string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	return msg.Header.Get("To"), bodies
}

// A worker composes each message into the storage of its previous one: a
// shorter message written over a longer one must carry nothing of it.
func TestAppendBytesReusesStorage(t *testing.T) {
	t.Parallel()
	long := digest("premier@example.org")
	short := digest("second@example.org")
	short.Text, short.HTML = "Bref.\n", "<p>Bref.</p>"
	first, err := long.AppendBytes(nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := short.AppendBytes(first)
	if err != nil {
		t.Fatal(err)
	}
	if &second[0] != &first[0] {
		t.Error("the second message did not reuse the first one's storage")
	}
	to, bodies := parts(t, second)
	fresh := mustBytes(t, short)
	wantTo, wantBodies := parts(t, fresh)
	if to != wantTo || len(bodies) != 2 || bodies[0] != wantBodies[0] || bodies[1] != wantBodies[1] {
		t.Errorf("reused storage gave To %q, parts %q; a fresh one %q, %q", to, bodies, wantTo, wantBodies)
	}
	if len(second) > len(fresh)+16 || len(second) < len(fresh)-16 {
		t.Errorf("reused storage gave %d bytes, a fresh one %d", len(second), len(fresh))
	}
}
