package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/testenv"
)

// TestGeneratedClient generates a TypeScript client from the OpenAPI
// document a real `crieur serve` serves (openapi-typescript, with
// openapi-fetch making the calls), type-checks the README's kind of client
// code against it with tsc (including a call the document forbids, which
// must not compile), and runs it against the daemon: what an integrator
// does with the document works.
func TestGeneratedClient(t *testing.T) {
	e2etest.Parallel(t)
	src, err := filepath.Abs(filepath.Join("..", "web", "api", "testdata", "client"))
	if err != nil {
		t.Fatal(err)
	}
	modules := filepath.Join(src, "node_modules")
	for _, tool := range []string{"openapi-typescript", "tsc"} {
		if _, err := os.Stat(filepath.Join(modules, ".bin", tool)); err != nil {
			testenv.Missing(t, tool+" (npm ci --prefix internal/web/api/testdata/client)")
		}
	}
	node := testenv.LookPath(t, "node", "nodejs")
	f := flowSetup(t, nil, "afrique")
	f.start()
	editor := e2etest.Token(t, f.env, "cms", "editor")

	// The document as a client generator fetches it.
	resp, err := e2etest.HTTPClient().Get(f.p.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET openapi.json: %d %v", resp.StatusCode, err)
	}
	work := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(work, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("openapi.json", doc)
	write("package.json", []byte(`{"type": "module"}`))
	for _, name := range []string{"client.ts", "tsconfig.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		write(name, b)
	}
	if err := os.Symlink(modules, filepath.Join(work, "node_modules")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(env []string, name string, args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("%s %v: %v\n%s%s", filepath.Base(name), args, err, out, stderr)
		}
		return out
	}
	run(nil, node, filepath.Join(modules, "openapi-typescript", "bin", "cli.js"), "openapi.json", "-o", "schema.d.ts")
	run(nil, node, filepath.Join(modules, "typescript", "bin", "tsc"), "-p", ".")
	out := run([]string{"CRIEUR_URL=" + f.p.URL, "CRIEUR_TOKEN=" + editor}, node, "client.js")
	var got struct {
		Topics  []string `json:"topics"`
		Article string   `json:"article"`
		Alert   string   `json:"alert"`
		State   string   `json:"state"`
		Refused int      `json:"refused"`
		Code    string   `json:"code"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client printed %q: %v", out, err)
	}
	if len(got.Topics) != 1 || got.Topics[0] != "afrique" || got.Article == "" || got.Alert == "" || got.State == "" || got.Refused != 403 || got.Code != "forbidden" {
		t.Errorf("the generated client saw %+v", got)
	}
}
