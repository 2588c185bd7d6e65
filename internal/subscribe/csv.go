package subscribe

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/crieur/crieur/internal/feed"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// CSVHeader is the header row of imports and exports: the contract's five
// columns, then the reader's time zone (empty: CRIEUR_TIMEZONE), which an
// import may leave out.
var CSVHeader = []string{"email", "topics", "frequency", "lang", "status", "timezone"}

// ImportReport says what an import did; the first MaxRejectLines rejected
// lines carry their line number and why, the others are only counted in
// MoreRejected: a file of bad lines must not grow the report without
// bound. Unsubscribed counts the unsubscribed rows: their addresses are on
// the suppression list and their subscribers, if any, unsubscribed.
type ImportReport struct {
	Imported     int          `json:"imported"`
	Pending      int          `json:"pending"`
	Existing     int          `json:"existing"`
	Suppressed   int          `json:"suppressed"`
	Unsubscribed int          `json:"unsubscribed"`
	Rejected     []RejectLine `json:"rejected"`
	MoreRejected int          `json:"more_rejected"`
}

// MaxRejectLines is how many rejected lines a report lists.
const MaxRejectLines = 100

// RejectedTotal is the number of rejected lines, listed or not.
func (r ImportReport) RejectedTotal() int { return len(r.Rejected) + r.MoreRejected }

// reject notes one refused line.
func (r *ImportReport) reject(l RejectLine) {
	if len(r.Rejected) >= MaxRejectLines {
		r.MoreRejected++
		return
	}
	r.Rejected = append(r.Rejected, l)
}

// RejectLine is one refused CSV line.
type RejectLine struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	// Code names the reason (email, duplicate, topic, frequency, lang,
	// status, timezone, malformed) and Arg its detail, for a translation
	// (admin.import.reason.<code>).
	Code string `json:"-"`
	Arg  string `json:"-"`
}

// refusal is why a CSV line is refused; the zero value accepts it.
type refusal struct{ code, arg string }

// reasons are the English reasons of each refusal code.
var reasons = map[string]string{
	"email":     "invalid email address",
	"duplicate": "duplicate address in this file",
	"topic":     "unknown topic %s",
	"frequency": "frequency must be daily or weekly",
	"lang":      "lang must be fr or en",
	"status":    "status must be pending, confirmed or unsubscribed",
	"timezone":  "unknown time zone %s (an IANA name such as Europe/Paris)",
	"malformed": "malformed CSV: %s",
}

// line is the RejectLine of a refusal at line n.
func (r refusal) line(n int) RejectLine {
	text := reasons[r.code]
	if len(r.arg) > 100 {
		// A topic can be a whole line's worth of text.
		r.arg = strings.ToValidUTF8(r.arg[:100], "") + "…"
	}
	if r.arg != "" {
		text = fmt.Sprintf(text, r.arg)
	}
	return RejectLine{Line: n, Reason: text, Code: r.code, Arg: r.arg}
}

const importBatch = 2000

// Import reads a CSV with the header email,topics,frequency,lang,status
// and writes its good rows in batched transactions. Bad rows are reported
// by line number; a bad row never stops the others. Confirmed rows are
// readers whose consent the publisher already holds; pending ones get a
// confirmation email; suppressed addresses are never re-imported.
// Unsubscribed rows send nothing: the address goes on the suppression list
// and its subscriber, if any, is marked unsubscribed. Topics are matched as
// feed categories are (feed.MapTopics): by slug or by name, ignoring case
// and accents, so "ÉCONOMIE" names economie. Whatever ExportCSV writes
// imports back.
func (s *Service) Import(ctx context.Context, r io.Reader) (ImportReport, error) {
	rep := ImportReport{Rejected: []RejectLine{}}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return rep, news.Errorf(news.CodeInvalid, "The CSV file has no header row.")
	}
	cols, err := headerColumns(head)
	if err != nil {
		return rep, err
	}
	topics, err := s.st.Topics(ctx)
	if err != nil {
		return rep, err
	}
	matcher := newTopicMatcher(topics)
	seen := map[string]bool{}
	var batch []store.ImportRow
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := s.st.ImportBatch(ctx, batch, s.now())
		if err != nil {
			return err
		}
		for _, o := range out {
			switch o {
			case store.Imported:
				rep.Imported++
			case store.ImportedPending:
				rep.Imported++
				rep.Pending++
			case store.SkippedExisting:
				rep.Existing++
			case store.SkippedSuppressed:
				rep.Suppressed++
			case store.ImportedUnsubscribed:
				rep.Unsubscribed++
			}
		}
		batch = batch[:0]
		return nil
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rep.reject(refusal{"malformed", pe.Err.Error()}.line(pe.Line))
				if rep.RejectedTotal() > 10_000 {
					return rep, news.Errorf(news.CodeInvalid, "Too many malformed lines; is this a CSV file?")
				}
				continue
			}
			return rep, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		row, why := parseRow(rec, cols, matcher)
		if why.code == "" && seen[row.Email] {
			why.code = "duplicate"
		}
		if why.code != "" {
			rep.reject(why.line(line))
			continue
		}
		seen[row.Email] = true
		row.Line = line
		row.Hash = s.Hash(row.Email)
		batch = append(batch, row)
		if len(batch) >= importBatch {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if rep.Pending > 0 {
		s.wake()
	}
	return rep, nil
}

func headerColumns(head []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, h := range head {
		cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	if _, ok := cols["email"]; !ok {
		return nil, news.Errorf(news.CodeInvalid, "The CSV header must be %s.", strings.Join(CSVHeader, ","))
	}
	return cols, nil
}

func field(rec []string, cols map[string]int, name string) string {
	i, ok := cols[name]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// topicMatcher finds the topic a CSV topics cell names: its exact slug,
// else what feed categories would name (slug or name, any case and
// accents).
type topicMatcher struct {
	index *feed.TopicIndex
	ids   map[string]int64 // slug → id
}

func newTopicMatcher(topics []news.Topic) *topicMatcher {
	m := &topicMatcher{index: feed.NewTopicIndex(topics), ids: make(map[string]int64, len(topics))}
	for _, t := range topics {
		m.ids[t.Slug] = t.ID
	}
	return m
}

// match returns the id of the topic name names.
func (m *topicMatcher) match(name string) (int64, bool) {
	if id, ok := m.ids[name]; ok {
		return id, true
	}
	slug, ok := m.index.Lookup(name)
	return m.ids[slug], ok
}

func parseRow(rec []string, cols map[string]int, topics *topicMatcher) (store.ImportRow, refusal) {
	var row store.ImportRow
	// ExportCSV writes an address that starts with one of =+-@ behind a
	// quote (spreadsheet formula defence); it is not part of the address.
	raw := field(rec, cols, "email")
	if len(raw) > 1 && raw[0] == '\'' && strings.ContainsRune(formulaStart, rune(raw[1])) {
		raw = raw[1:]
	}
	// Lower-cased, so that one mailbox written in two cases is one
	// duplicate in the file and matches its existing subscriber.
	email, err := address(raw)
	if err != nil {
		return row, refusal{code: "email"}
	}
	row.Email = email
	for _, t := range strings.Split(field(rec, cols, "topics"), ";") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		id, ok := topics.match(t)
		if !ok {
			return row, refusal{"topic", strconv.Quote(truncate(t, 64))}
		}
		if !slices.Contains(row.Prefs.TopicIDs, id) {
			row.Prefs.TopicIDs = append(row.Prefs.TopicIDs, id)
		}
	}
	row.Prefs.Frequency = news.Frequency(strings.ToLower(field(rec, cols, "frequency")))
	if row.Prefs.Frequency == "" {
		row.Prefs.Frequency = news.Daily
	}
	if !row.Prefs.Frequency.Valid() {
		return row, refusal{code: "frequency"}
	}
	row.Prefs.Lang = news.Lang(strings.ToLower(field(rec, cols, "lang")))
	if row.Prefs.Lang == "" {
		row.Prefs.Lang = news.French
	}
	if !row.Prefs.Lang.Valid() {
		return row, refusal{code: "lang"}
	}
	row.Status = news.Status(strings.ToLower(field(rec, cols, "status")))
	if row.Status == "" {
		row.Status = news.Pending
	}
	if !row.Status.Valid() {
		return row, refusal{code: "status"}
	}
	tz := field(rec, cols, "timezone")
	if row.Prefs.Timezone, err = Zone(tz); err != nil {
		return row, refusal{"timezone", strconv.Quote(truncate(tz, maxZoneLen))}
	}
	return row, refusal{}
}

// ExportCSV writes every subscriber as CSV with the import header, so an
// export imports back unchanged.
func (s *Service) ExportCSV(ctx context.Context, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	err := s.st.EachSubscriber(ctx, func(sub news.Subscriber) error {
		return cw.Write([]string{csvSafe(sub.Email), strings.Join(sub.Topics, ";"), string(sub.Frequency), string(sub.Lang), string(sub.Status), sub.Timezone})
	})
	if err != nil {
		return fmt.Errorf("export subscribers: %w", err)
	}
	cw.Flush()
	return cw.Error()
}

// formulaStart are the first characters that make a spreadsheet read a
// cell as a formula.
const formulaStart = "=+-@"

// csvSafe defuses spreadsheet formula injection in an exported cell.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune(formulaStart, rune(v[0])) {
		return "'" + v
	}
	return v
}
