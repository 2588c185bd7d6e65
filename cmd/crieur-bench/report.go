package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// report is the whole run's output.
type report struct {
	started  time.Time
	opts     options
	sections []*section
}

// section is one scenario's table.
type section struct {
	title string
	setup []string    // how it was measured
	rows  [][4]string // metric, value, target, verdict
	head  []string    // column names, when not metric/value/target/verdict
	notes []string
}

func (s *section) row(metric, value, target string, ok *bool) {
	verdict := ""
	if ok != nil {
		verdict = "met"
		if !*ok {
			verdict = "**missed**"
		}
	}
	s.rows = append(s.rows, [4]string{metric, value, target, verdict})
}

func (s *section) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

func (r *report) markdown() string {
	var b strings.Builder
	host, _ := os.Hostname()
	db := "SQLite (temporary file)"
	if r.opts.db != "" {
		db = "PostgreSQL (-db)"
	}
	fmt.Fprintf(&b, "# crieur benchmark report\n\n%s on %s: %d CPUs, %s, %s/%s; database: %s.\n",
		r.started.Format(time.RFC3339), host, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, db)
	fmt.Fprintf(&b, "Command: `%s`\n\n", strings.Join(os.Args, " "))
	b.WriteString("Unless a section says otherwise, CPU is this process's user+system time (getrusage) over the measured phase; the SMTP sink and the push stub run as separate processes and are not counted. Peak RSS is VmHWM, reset after seeding.\n")
	for _, s := range r.sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.title)
		for _, l := range s.setup {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		head := s.head
		if head == nil {
			head = []string{"metric", "value", "target", ""}
		}
		fmt.Fprintf(&b, "\n| %s |\n| --- | --- | --- | --- |\n", strings.Join(head, " | "))
		for _, row := range s.rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row[0], row[1], row[2], row[3])
		}
		if len(s.notes) > 0 {
			b.WriteString("\n")
			for _, n := range s.notes {
				fmt.Fprintf(&b, "%s\n", n)
			}
		}
	}
	return b.String()
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(100 * time.Microsecond).String()
	}
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func ptr(b bool) *bool { return &b }
