package mail_test

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"testing"

	"github.com/crieur/crieur/internal/mail"
)

// dotWriterBytes returns what net/textproto's DotWriter, which go-mail's
// DataCloser wraps, writes for msg, terminating ".\r\n" included.
func dotWriterBytes(tb testing.TB, msg []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := textproto.NewWriter(bw).DotWriter()
	if _, err := w.Write(msg); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// dotRead decodes a DATA section as a server does.
func dotRead(tb testing.TB, wire []byte) []byte {
	tb.Helper()
	got, err := io.ReadAll(textproto.NewReader(bufio.NewReader(bytes.NewReader(wire))).DotReader())
	if err != nil {
		tb.Fatalf("DotReader on %q: %v", wire, err)
	}
	return got
}

func TestAppendDotData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"a\r\n.\r\n", "a\r\n..\r\n.\r\n"},          // a body that ends like the terminator
		{"a\r\n.", "a\r\n..\r\n.\r\n"},              // a final line that is a lone dot, no CRLF
		{"a\n.b\nc", "a\r\n..b\r\nc\r\n.\r\n"},      // bare LFs end lines
		{"a\r.b\r", "a\r.b\r\n.\r\n"},               // a bare CR ends no line
		{"a\r\r\nb", "a\r\r\r\nb\r\n.\r\n"},         // DotWriter's quirk, kept
		{"..x\r\n...\r\n", "...x\r\n....\r\n.\r\n"}, // one more dot, however many
		{"\r\n\r\n.\n", "\r\n\r\n..\r\n.\r\n"},      // empty lines, then a dot line
		{"x\r\n\r\n", "x\r\n\r\n.\r\n"},             // a final empty line
	} {
		if got := mail.AppendDotData(nil, []byte(tc.in)); string(got) != tc.want {
			t.Errorf("AppendDotData(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if want := dotWriterBytes(t, []byte(tc.in)); string(want) != tc.want {
			t.Errorf("the table disagrees with DotWriter on %q: %q", tc.in, want)
		}
	}
	// It appends: what dst held stays in front.
	if got := mail.AppendDotData([]byte("keep"), []byte("x")); string(got) != "keepx\r\n.\r\n" {
		t.Errorf("append onto dst = %q", got)
	}
}

// FuzzAppendDotData: for arbitrary bytes, what goes on the wire is byte for
// byte what go-mail's DotWriter path sent, so a server reads (DotReader)
// exactly the same message.
func FuzzAppendDotData(f *testing.F) {
	for _, s := range []string{
		"", ".", "\r", "\n", "\r\n", "\r\n.\r\n", ".\r\n.", "a\r\r\nb", "\n.\n..\r.", "\r\r\r\n\n\n.",
		"Subject: x\r\n\r\n.hidden\r\nlast line without CRLF",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		want := dotWriterBytes(t, msg)
		got := mail.AppendDotData(nil, msg)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendDotData(%q)\n got %q\nwant %q", msg, got, want)
		}
		if d, w := dotRead(t, got), dotRead(t, want); !bytes.Equal(d, w) {
			t.Fatalf("decoded %q, want %q", d, w)
		}
		// Transparency (RFC 5321 4.5.2): the only line that is a lone dot
		// is the terminator at the very end.
		if i := bytes.Index(got, []byte("\r\n.\r\n")); i >= 0 && i != len(got)-5 {
			t.Fatalf("a line of one dot at %d of %q", i, got)
		}
		if !bytes.HasSuffix(got, []byte("\r\n.\r\n")) {
			t.Fatalf("no CRLF . CRLF at the end: %q", got)
		}
	})
}

func BenchmarkAppendDotData(b *testing.B) {
	raw := benchMessage(b)
	b.Run("appendDotData", func(b *testing.B) {
		var buf []byte
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			buf = mail.AppendDotData(buf[:0], raw)
		}
	})
	b.Run("DotWriter", func(b *testing.B) {
		bw := bufio.NewWriter(io.Discard)
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			w := textproto.NewWriter(bw).DotWriter()
			_, _ = w.Write(raw)
			_ = w.Close()
		}
	})
}
