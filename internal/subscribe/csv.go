package subscribe

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// CSVHeader is the header row of imports and exports.
var CSVHeader = []string{"email", "topics", "frequency", "lang", "status"}

// ImportReport says what an import did; rejected lines carry their line
// number and why.
type ImportReport struct {
	Imported   int          `json:"imported"`
	Pending    int          `json:"pending"`
	Existing   int          `json:"existing"`
	Suppressed int          `json:"suppressed"`
	Rejected   []RejectLine `json:"rejected"`
}

// RejectLine is one refused CSV line.
type RejectLine struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

const importBatch = 2000

// Import reads a CSV with the header email,topics,frequency,lang,status
// and writes its good rows in batched transactions. Bad rows are reported
// by line number; a bad row never stops the others. Confirmed rows are
// readers whose consent the publisher already holds; pending ones get a
// confirmation email; suppressed addresses are never re-imported.
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
	topicIDs := make(map[string]int64, len(topics))
	for _, t := range topics {
		topicIDs[t.Slug] = t.ID
	}
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
				rep.Rejected = append(rep.Rejected, RejectLine{Line: pe.Line, Reason: "malformed CSV: " + pe.Err.Error()})
				if len(rep.Rejected) > 10_000 {
					return rep, news.Errorf(news.CodeInvalid, "Too many malformed lines; is this a CSV file?")
				}
				continue
			}
			return rep, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		row, reason := parseRow(rec, cols, topicIDs)
		if reason == "" && seen[row.Email] {
			reason = "duplicate address in this file"
		}
		if reason != "" {
			rep.Rejected = append(rep.Rejected, RejectLine{Line: line, Reason: reason})
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

func parseRow(rec []string, cols map[string]int, topicIDs map[string]int64) (store.ImportRow, string) {
	var row store.ImportRow
	// Lower-cased, so that one mailbox written in two cases is one
	// duplicate in the file and matches its existing subscriber.
	email, err := address(field(rec, cols, "email"))
	if err != nil {
		return row, "invalid email address"
	}
	row.Email = email
	for _, t := range strings.Split(field(rec, cols, "topics"), ";") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		id, ok := topicIDs[t]
		if !ok {
			return row, fmt.Sprintf("unknown topic %q", truncate(t, 64))
		}
		row.Prefs.TopicIDs = append(row.Prefs.TopicIDs, id)
	}
	row.Prefs.Frequency = news.Frequency(strings.ToLower(field(rec, cols, "frequency")))
	if row.Prefs.Frequency == "" {
		row.Prefs.Frequency = news.Daily
	}
	if !row.Prefs.Frequency.Valid() {
		return row, "frequency must be daily or weekly"
	}
	row.Prefs.Lang = news.Lang(strings.ToLower(field(rec, cols, "lang")))
	if row.Prefs.Lang == "" {
		row.Prefs.Lang = news.French
	}
	if !row.Prefs.Lang.Valid() {
		return row, "lang must be fr or en"
	}
	row.Status = news.Status(strings.ToLower(field(rec, cols, "status")))
	if row.Status == "" {
		row.Status = news.Pending
	}
	if row.Status != news.Pending && row.Status != news.Confirmed {
		return row, "status must be pending or confirmed"
	}
	return row, ""
}

// ExportCSV writes every subscriber as CSV with the import header, so an
// export imports back unchanged.
func (s *Service) ExportCSV(ctx context.Context, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	err := s.st.EachSubscriber(ctx, func(sub news.Subscriber) error {
		return cw.Write([]string{csvSafe(sub.Email), strings.Join(sub.Topics, ";"), string(sub.Frequency), string(sub.Lang), string(sub.Status)})
	})
	if err != nil {
		return fmt.Errorf("export subscribers: %w", err)
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formula injection in an exported cell.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@", rune(v[0])) {
		return "'" + v
	}
	return v
}
