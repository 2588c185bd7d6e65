package store

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

// queryFS holds the named queries: queries/*.sql for both dialects, and
// queries/postgres/*.sql overriding a name where PostgreSQL needs other SQL.
//
//go:embed queries
var queryFS embed.FS

// loadQueries reads "-- name: X" sections into a map, applying the
// dialect's overrides and placeholders.
func loadQueries(d Dialect) (map[string]string, error) {
	out := map[string]string{}
	if err := readQueryDir("queries", out); err != nil {
		return nil, err
	}
	if d == Postgres {
		if err := readQueryDir("queries/postgres", out); err != nil {
			return nil, err
		}
		s := &Store{dialect: d}
		for k, v := range out {
			out[k] = s.rebind(v)
		}
	}
	return out, nil
}

func readQueryDir(dir string, out map[string]string) error {
	entries, err := fs.ReadDir(queryFS, dir)
	if err != nil {
		return fmt.Errorf("read queries: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		f, err := queryFS.Open(dir + "/" + e.Name())
		if err != nil {
			return err
		}
		var name string
		var body strings.Builder
		flush := func() {
			if name != "" {
				out[name] = strings.TrimSpace(body.String())
			}
			body.Reset()
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
				flush()
				name = strings.TrimSpace(n)
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(line), "--") {
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
		}
		flush()
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	return nil
}
