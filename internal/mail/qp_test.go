package mail_test

import (
	"bytes"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/mail"
)

// stdQP is what mime/quotedprintable writes for s: the reference
// EncodeQP must match byte for byte.
func stdQP(tb testing.TB, s string) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

var qpSeeds = []string{
	"",
	"plain ascii line\n",
	"trailing space \nand tab\t\n",
	"ends with space ",
	"é à ç œ « guillemets » – tiret\n",
	strings.Repeat("a", 75) + " \n",
	strings.Repeat("a", 74) + "é\n",
	strings.Repeat("a", 73) + "==\n" + strings.Repeat("b", 200),
	strings.Repeat("x", 75) + "\t",
	"cr\rlf\ncrlf\r\nlone\r=\n\rx",
	"\r=\n",
	"<a href=\"https://news.example/a?x=1&y=2\">Titre</a>\n",
	strings.Repeat("mot ", 60) + "\n\n" + strings.Repeat("é", 100),
	"\x00\x7f\xff bytes\n",
}

func TestEncodeQPMatchesStandardWriter(t *testing.T) {
	t.Parallel()
	for _, s := range qpSeeds {
		if got, want := mail.EncodeQP(s), stdQP(t, s); !bytes.Equal(got, want) {
			t.Errorf("EncodeQP(%q)\n got %q\nwant %q", s, got, want)
		}
	}
}

// FuzzEncodeQP checks EncodeQP against mime/quotedprintable, and that a
// head ending with a line break encodes apart from what follows it, whole
// or line by line through QPLines.
func FuzzEncodeQP(f *testing.F) {
	for _, s := range qpSeeds {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, cut int) {
		if got, want := mail.EncodeQP(s), stdQP(t, s); !bytes.Equal(got, want) {
			t.Fatalf("EncodeQP(%q)\n got %q\nwant %q", s, got, want)
		}
		if cut < 0 || cut > len(s) {
			return
		}
		i := strings.LastIndexByte(s[:cut], '\n')
		if i < 0 {
			return
		}
		head, rest := s[:i+1], s[i+1:]
		if loneCR(head) {
			// mime/quotedprintable (and EncodeQP with it) takes a '\n' after
			// '\r' and escaped bytes as the line feed of that '\r', so such a head
			// may not end on a line break. Composed text has no lone '\r':
			// compose turns control characters into spaces.
			return
		}
		want := stdQP(t, s)
		if got := mail.AppendQP(mail.EncodeQP(head), rest); !bytes.Equal(got, want) {
			t.Fatalf("EncodeQP(%q)+EncodeQP(%q)\n got %q\nwant %q", head, rest, got, want)
		}
		var lines mail.QPLines
		lines.Encode(rest + "\n") // a line of the cache the head may meet again
		if got := mail.AppendQP(bytes.Join(lines.Encode(head), nil), rest); !bytes.Equal(got, want) {
			t.Fatalf("QPLines.Encode(%q)+EncodeQP(%q)\n got %q\nwant %q", head, rest, got, want)
		}
	})
}

// loneCR reports whether s has a '\r' not followed by '\n'.
func loneCR(s string) bool {
	for i := range len(s) {
		if s[i] == '\r' && (i+1 == len(s) || s[i+1] != '\n') {
			return true
		}
	}
	return false
}
