// Package pushimport moves browser push subscriptions in from another
// service: it reads an export (JSON lines, or OneSignal's CSV, gzipped or
// not), checks each subscription as POST /api/v1/push/subscriptions
// checks it, and stores the good ones in batches, a known endpoint
// updated rather than duplicated. `crieur push import` is its command.
//
// It imports news and store, never the web rooms or the daemon.
package pushimport

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Format is the kind of export a file is.
type Format string

// The formats Reader knows.
const (
	JSONLines Format = "JSON lines"
	OneSignal Format = "OneSignal CSV"
)

// maxLine bounds one line of a JSON-lines export: a subscription is a few
// hundred bytes; a longer line is refused rather than buffered.
const maxLine = 64 << 10

// Record is one subscription as the export gives it, not yet checked.
type Record struct {
	Line      int // 1-based line of the file (of its first line, for CSV)
	Endpoint  string
	P256dh    string
	Auth      string
	Topics    []string
	Lang      string
	CreatedAt time.Time
	// Skip, when set, says why the line is not a browser subscription to
	// import and not an error either (OneSignal exports phones, e-mail
	// addresses and unsubscribed browsers too).
	Skip Skip
}

// Skip is why a line is passed over.
type Skip string

// Why a OneSignal row is passed over.
const (
	SkipNotWeb       Skip = "not a browser subscription (a phone, an e-mail address, a Safari APNs token…)"
	SkipUnsubscribed Skip = "unsubscribed at the old service"
)

// LineError is a line that cannot be read as a subscription.
type LineError struct {
	Line   int
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Reader reads the records of an export one at a time.
type Reader struct {
	format Format
	next   func() (Record, error)
}

// NewReader looks at the start of r (after an optional gzip layer and a
// UTF-8 byte order mark) to tell the format: a '{' starts JSON lines,
// anything else must be a OneSignal CSV header. An error here means the
// whole file cannot be imported.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read the gzip layer: %w", err)
		}
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	if first == '{' {
		return &Reader{format: JSONLines, next: jsonLines(br)}, nil
	}
	next, err := oneSignal(br)
	if err != nil {
		return nil, err
	}
	return &Reader{format: OneSignal, next: next}, nil
}

// firstByte is the first byte that is not white space, left unread.
func firstByte(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, bufio.ErrBufferFull) {
				return 0, errors.New("the file holds no subscription")
			}
			return 0, err
		}
		if c := b[n-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, nil
		}
	}
}

// Format is the format NewReader found.
func (r *Reader) Format() Format { return r.format }

// Next returns the next record; a *LineError for a line that is not one
// (reading may go on); io.EOF at the end; any other error stops.
func (r *Reader) Next() (Record, error) { return r.next() }

// jsonLine is one line of a JSON-lines export. Fields other exporters add
// (expirationTime, an id) are ignored.
type jsonLine struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	Topics    []string `json:"topics"`
	Lang      string   `json:"lang"`
	CreatedAt string   `json:"created_at"`
}

func jsonLines(br *bufio.Reader) func() (Record, error) {
	line := 0
	return func() (Record, error) {
		for {
			raw, err := readLine(br)
			if raw == nil && err != nil {
				return Record{}, err
			}
			line++
			if errors.Is(err, errLineTooLong) {
				return Record{}, &LineError{line, fmt.Sprintf("longer than %d bytes", maxLine)}
			}
			raw = bytes.TrimSpace(raw)
			if len(raw) == 0 {
				continue
			}
			var in jsonLine
			if err := json.Unmarshal(raw, &in); err != nil {
				return Record{}, &LineError{line, "not a JSON object with endpoint and keys: " + jsonReason(err)}
			}
			rec := Record{Line: line, Endpoint: in.Endpoint, P256dh: in.Keys.P256dh, Auth: in.Keys.Auth, Topics: in.Topics, Lang: in.Lang}
			if in.CreatedAt != "" {
				t, err := time.Parse(time.RFC3339, in.CreatedAt)
				if err != nil {
					return Record{}, &LineError{line, "created_at is not an RFC 3339 time"}
				}
				rec.CreatedAt = t
			}
			return rec, nil
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line without its end; a line over maxLine is
// skipped to its end and reported as errLineTooLong. At the end of the
// file it returns nil, io.EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(out)+len(frag) > maxLine {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return []byte{}, errLineTooLong
		}
		out = append(out, frag...)
		switch {
		case err == nil:
			return out, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(out) == 0 {
				return nil, io.EOF
			}
			return out, nil
		default:
			return nil, err
		}
	}
}

// jsonReason says what is wrong with a line without quoting it (a line
// holds a reader's keys).
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s has the wrong type", te.Field)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "malformed JSON"
}

// The columns of OneSignal's subscription export this reader uses. The
// default columns are id, identifier (the push endpoint, for a browser),
// session_count, language, timezone, game_version, device_os, device_type,
// device_model, ad_id, tags, last_active, playtime, amount_spent,
// created_at, invalid_identifier (t: unsubscribed) and badge_count; the
// keys a browser's messages are encrypted with are the extra columns
// web_auth and web_p256, exported only when asked for.
const (
	colIdentifier = "identifier"
	colAuth       = "web_auth"
	colP256       = "web_p256"
	colLanguage   = "language"
	colCreatedAt  = "created_at"
	colInvalid    = "invalid_identifier"
)

// maxRow bounds one CSV row, quoted line breaks included: encoding/csv
// holds a whole row in memory, and a quote left open (or a gzip bomb
// without a line break) would otherwise make it the rest of the file.
const maxRow = 256 << 10

// errRowTooLong stops a CSV export at a row over maxRow: where the next
// row starts cannot be told, so reading does not go on.
var errRowTooLong = fmt.Errorf("a CSV row longer than %d bytes (a quote left open?); the rest of the file cannot be read", maxRow)

// rowCap hands encoding/csv at most max bytes between two calls of
// next, then errRowTooLong.
type rowCap struct {
	r      io.Reader
	n, max int
}

func (c *rowCap) Read(p []byte) (int, error) {
	if c.n >= c.max {
		return 0, errRowTooLong
	}
	if len(p) > c.max-c.n {
		p = p[:c.max-c.n]
	}
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// next starts a row's budget; what csv has buffered of it already counted
// against the last one (at most its 4 KiB buffer).
func (c *rowCap) next() { c.n = 0 }

func oneSignal(br *bufio.Reader) (func() (Record, error), error) {
	capped := &rowCap{r: br, max: maxRow}
	cr := csv.NewReader(capped)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("neither JSON lines nor a CSV export: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	if _, ok := col[colIdentifier]; !ok {
		return nil, errors.New("neither JSON lines (a {\"endpoint\", \"keys\"} object per line) nor OneSignal's CSV export (its header names no identifier column)")
	}
	_, hasAuth := col[colAuth]
	_, hasP256 := col[colP256]
	if !hasAuth || !hasP256 {
		return nil, errors.New(`this OneSignal export has no web_auth and web_p256 columns, the keys alerts are encrypted with: export again asking for them (extra_fields ["web_auth", "web_p256"])`)
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	last := 1 // the line of the last row read, for an error that ends reading
	return func() (Record, error) {
		capped.next()
		rec, err := cr.Read()
		if err != nil {
			if errors.Is(err, errRowTooLong) {
				return Record{}, fmt.Errorf("after the row of line %d: %w", last, errRowTooLong)
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return Record{}, &LineError{pe.StartLine, "not a CSV row: " + pe.Err.Error()}
			}
			return Record{}, err
		}
		line, _ := cr.FieldPos(0)
		last = line
		out := Record{Line: line, Endpoint: field(rec, colIdentifier), P256dh: field(rec, colP256), Auth: field(rec, colAuth),
			Lang: oneSignalLang(field(rec, colLanguage)), CreatedAt: oneSignalTime(field(rec, colCreatedAt))}
		switch {
		case field(rec, colInvalid) == "t" || strings.EqualFold(field(rec, colInvalid), "true"):
			out.Skip = SkipUnsubscribed
		case !strings.HasPrefix(out.Endpoint, "https://") && !strings.HasPrefix(out.Endpoint, "http://") && out.P256dh == "" && out.Auth == "":
			out.Skip = SkipNotWeb
		}
		return out, nil
	}, nil
}

// oneSignalLang keeps a device language crieur speaks ("fr", "fr-CA",
// "en_GB"); any other is left empty, for the default.
func oneSignalLang(s string) string {
	s = strings.ToLower(s)
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	if s == "fr" || s == "en" {
		return s
	}
	return ""
}

// oneSignalTime reads the export's created_at, in the forms it has been
// seen written; a time it cannot read is left zero (imported as now):
// it is a date of record, not a reason to refuse a reader.
func oneSignalTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05-07", "2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
