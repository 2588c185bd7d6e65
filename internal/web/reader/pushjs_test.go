package reader_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/testenv"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/site"
)

// TestPushScriptsServed checks the widget and the service worker are served
// as JavaScript a publisher's page can load cross-origin, and that node
// parses them (no syntax error reaches a reader's browser).
func TestPushScriptsServed(t *testing.T) {
	t.Parallel()
	node := testenv.LookPath(t, "node", "nodejs")
	h, err := site.New(web.Deps{Log: slog.New(slog.DiscardHandler), BaseURL: "https://crieur.example"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	for _, path := range []string{"/push/widget.js", "/push/sw.js"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
			resp.Header.Get("Access-Control-Allow-Origin") != "*" || len(body) == 0 {
			t.Fatalf("GET %s: %d %v, %d bytes", path, resp.StatusCode, resp.Header, len(body))
		}
		file := filepath.Join(dir, filepath.Base(path))
		if err := os.WriteFile(file, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(node, "--check", file).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", path, err, out)
		}
	}
}
