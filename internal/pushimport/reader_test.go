package pushimport_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/pushimport"
)

// readAll reads every record and line error of data.
func readAll(tb testing.TB, data []byte) (*pushimport.Reader, []pushimport.Record, []pushimport.LineError, error) {
	tb.Helper()
	r, err := pushimport.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, nil, err
	}
	var recs []pushimport.Record
	var bad []pushimport.LineError
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r, recs, bad, nil
		}
		var le *pushimport.LineError
		if errors.As(err, &le) {
			bad = append(bad, *le)
			continue
		}
		if err != nil {
			return r, recs, bad, err
		}
		recs = append(recs, rec)
	}
}

func TestJSONLines(t *testing.T) {
	t.Parallel()
	data := "\ufeff" + `{"endpoint":"https://a.example/1","keys":{"p256dh":"P","auth":"A"},"topics":["afrique"],"lang":"en","created_at":"2025-01-02T03:04:05Z","expirationTime":null}

{"endpoint":"https://a.example/2","keys":{"p256dh":"P","auth":"A"}}
not json
{"endpoint":"https://a.example/3","keys":{"p256dh":"P","auth":"A"},"created_at":"yesterday"}
{"endpoint": 3}
` + `{"endpoint":"` + strings.Repeat("x", 70_000) + `"}` + "\n" +
		`{"endpoint":"https://a.example/last","keys":{"p256dh":"P","auth":"A"}}`
	r, recs, bad, err := readAll(t, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if r.Format() != pushimport.JSONLines {
		t.Errorf("format %s", r.Format())
	}
	if len(recs) != 3 || recs[0].Line != 1 || recs[1].Line != 3 || recs[2].Line != 8 {
		t.Fatalf("records %+v", recs)
	}
	want := pushimport.Record{Line: 1, Endpoint: "https://a.example/1", P256dh: "P", Auth: "A", Topics: []string{"afrique"}, Lang: "en",
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	if got := recs[0]; got.Endpoint != want.Endpoint || got.P256dh != "P" || got.Auth != "A" || len(got.Topics) != 1 || got.Lang != "en" || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("first record %+v, want %+v", got, want)
	}
	wantBad := map[int]string{4: "not a JSON object", 5: "created_at", 6: "endpoint has the wrong type", 7: "longer than"}
	if len(bad) != len(wantBad) {
		t.Errorf("line errors %+v, want lines 4 to 7", bad)
	}
	for _, le := range bad {
		if !strings.Contains(le.Reason, wantBad[le.Line]) || strings.Contains(le.Reason, "xxxx") {
			t.Errorf("line %d: %q, want it to say %q without quoting the line", le.Line, le.Reason, wantBad[le.Line])
		}
	}
}

const oneSignalHeader = "id,identifier,session_count,language,timezone,game_version,device_os,device_type,device_model,ad_id,tags,last_active,playtime,amount_spent,created_at,invalid_identifier,badge_count,web_auth,web_p256\n"

func TestOneSignalCSV(t *testing.T) {
	t.Parallel()
	data := oneSignalHeader +
		`a1,https://fcm.googleapis.com/fcm/send/x,3,fr-FR,3600,,120,5,"Linux, x86",,"{""a"":""b""}",2026-11-30 10:00:00,0,0,2024-01-02 03:04:05,f,0,AUTH,P256` + "\n" +
		`a2,7abcd558f29d,9,de,3600,1.2,17,0,iPhone12,,{},x,0,0,2024-01-02 03:04:05,f,0,,` + "\n" +
		`a3,https://updates.push.services.mozilla.com/wpush/v2/y,1,en,0,,120,8,,,{},x,0,0,garbage,t,0,AUTH,P256` + "\n" +
		"a4,\"https://fcm.googleapis.com/fcm/send/\nz\",1,pt,0,,120,5,,,{},x,0,0,2024-01-02T03:04:05Z,f,0,AUTH,P256\n" +
		`a5,https://fcm.googleapis.com/fcm/send/short,1` + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(data))
	zw.Close()
	for name, in := range map[string][]byte{"plain": []byte(data), "gzip": gz.Bytes()} {
		r, recs, bad, err := readAll(t, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Format() != pushimport.OneSignal || len(bad) != 0 || len(recs) != 5 {
			t.Fatalf("%s: %s, %d records, line errors %+v", name, r.Format(), len(recs), bad)
		}
		first := recs[0]
		if first.Line != 2 || first.Endpoint != "https://fcm.googleapis.com/fcm/send/x" || first.Auth != "AUTH" || first.P256dh != "P256" ||
			first.Lang != "fr" || !first.CreatedAt.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) || first.Skip != "" {
			t.Errorf("%s: first row %+v", name, first)
		}
		if recs[1].Skip != pushimport.SkipNotWeb || recs[2].Skip != pushimport.SkipUnsubscribed || !recs[2].CreatedAt.IsZero() {
			t.Errorf("%s: a phone and an unsubscribed browser: %+v %+v", name, recs[1], recs[2])
		}
		// A quoted field over two lines: the next row's number follows.
		if recs[3].Line != 5 || recs[3].Lang != "" || recs[4].Line != 7 || recs[4].P256dh != "" {
			t.Errorf("%s: rows 4 and 5: %+v %+v", name, recs[3], recs[4])
		}
	}
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ data, says string }{
		{"", "holds no subscription"},
		{"  \n\t\n", "holds no subscription"},
		{"email,topics\n", "neither JSON lines"},
		{"id,identifier,language\n", "web_auth and web_p256"},
		{"\x1f\x8bnot gzip", "gzip"},
	} {
		if _, err := pushimport.NewReader(strings.NewReader(c.data)); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v, want an error saying %q", c.data, err, c.says)
		}
	}
}

// FuzzReader feeds the readers any bytes: they must never panic, number
// lines from 1 upwards, and end with io.EOF or an error.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"endpoint":"https://a.example/1","keys":{"p256dh":"P","auth":"A"},"topics":["x"],"lang":"fr","created_at":"2025-01-02T03:04:05Z"}` + "\n{}\n\nnope\n"))
	f.Add([]byte(oneSignalHeader + "a1,https://fcm.googleapis.com/x,3,fr,3600,,120,5,,,{},x,0,0,2024-01-02 03:04:05,f,0,AUTH,P256\n\"a\"b,\"\n"))
	f.Add([]byte("\ufeffidentifier,web_auth,web_p256\n\"x\ny\",a,b\n,,\n"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := pushimport.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		last := 0
		// A gzip layer may hold many more lines than bytes: bounded, not
		// counted.
		for range 1 << 16 {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			line := rec.Line
			var le *pushimport.LineError
			if errors.As(err, &le) {
				line = le.Line
			} else if err != nil {
				return
			}
			if line < 1 || line < last {
				t.Fatalf("line %d after line %d", line, last)
			}
			last = line
		}
	})
}

// countingReader counts what is read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestCSVRowBounded: a OneSignal CSV whose quote is never closed (or a
// gzip bomb without a line break) stops with an error after a bounded
// read, in the header or in a row, instead of holding the rest of the
// file in memory as one row.
func TestCSVRowBounded(t *testing.T) {
	t.Parallel()
	const huge = 32 << 20
	for name, head := range map[string]string{
		"open quote in a row":  "identifier,web_auth,web_p256\nhttps://a.example/1,A,P\n\"",
		"header without break": "identifier,web_auth,web_p256,",
	} {
		src := &countingReader{r: io.MultiReader(strings.NewReader(head), io.LimitReader(repeatReader('a'), huge))}
		r, err := pushimport.NewReader(src)
		if err == nil {
			for {
				_, err = r.Next()
				var le *pushimport.LineError
				if err != nil && !errors.As(err, &le) {
					break
				}
			}
		}
		if err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "longer than") {
			t.Errorf("%s: %v, want an error saying a row is too long", name, err)
		}
		if src.n > 1<<20 {
			t.Errorf("%s: %d bytes read before giving up, want at most 1 MiB", name, src.n)
		}
	}
}

type repeatReader byte

func (b repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
