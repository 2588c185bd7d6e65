package reader_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/testenv"
	"github.com/crieur/crieur/templates"
)

// swHarness runs sw.js in node with a stand-in for the service worker
// global, dispatches pushes and prints one line per push: the titles of
// the notifications shown for it.
const swHarness = `
const fs = require('fs'), vm = require('vm');
const shown = [];
let failImage = false;
const listeners = {};
const self = {
  location: {origin: 'https://journal.example', href: 'https://journal.example/crieur-sw.js'},
  registration: {
    scope: 'https://journal.example/',
    showNotification(title, opts) {
      if (failImage && opts.image) return Promise.reject(new Error('image refused'));
      shown.push(title + (opts.body ? ' / ' + opts.body : ''));
      return Promise.resolve();
    },
  },
  clients: {matchAll: () => Promise.resolve([]), claim: () => Promise.resolve()},
  addEventListener(name, fn) { listeners[name] = fn; },
  skipWaiting() {},
};
vm.runInNewContext(fs.readFileSync(process.argv[2], 'utf8'), {self, URL, Response, caches: undefined, fetch: undefined, atob, console});
function data(text) {
  return {text: () => text, json: () => JSON.parse(text)};
}
async function push(d) {
  let p;
  const before = shown.length;
  listeners.push({data: d, waitUntil(x) { p = x; }});
  try { await p; } catch (e) { console.log('rejected: ' + e.message); }
  console.log(JSON.stringify(shown.slice(before)));
}
(async () => {
  await push(data(JSON.stringify({title: 'Séisme', body: 'Magnitude 5', url: 'https://journal.example/a', alert_id: '1', tag: 't'})));
  await push(undefined);
  await push(data('not json'));
  await push(data('null'));
  await push(data(JSON.stringify({title: 42, body: {x: 1}})));
  failImage = true;
  await push(data(JSON.stringify({title: 'Avec image', body: 'b', image: 'https://cdn.example/x.jpg'})));
})();
`

// TestServiceWorkerAlwaysShows: every push shows exactly one notification,
// whatever it carries (iOS revokes subscriptions whose pushes show none):
// a normal alert; no payload and a payload that is not JSON (the site's
// name); fields of the wrong type; a notification the browser refuses for
// its image, shown again without it.
func TestServiceWorkerAlwaysShows(t *testing.T) {
	t.Parallel()
	node := testenv.LookPath(t, "node", "nodejs")
	dir := t.TempDir()
	src, err := fs.ReadFile(templates.FS, "static/push/sw.js")
	if err != nil {
		t.Fatal(err)
	}
	swPath, harness := filepath.Join(dir, "sw.js"), filepath.Join(dir, "harness.js")
	if err := os.WriteFile(swPath, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(harness, []byte(swHarness), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, harness, swPath).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	want := []string{
		`["Séisme / Magnitude 5"]`,
		`["journal.example"]`,
		`["journal.example / not json"]`,
		`["journal.example"]`,
		`["journal.example"]`,
		`["Avec image / b"]`,
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("notifications per push:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}

// swClickHarness runs sw.js in node and dispatches a notificationclick
// for each URL given on the command line (as a push payload would carry
// it), printing what the worker opened, one line each ("-" for nothing).
const swClickHarness = `
const fs = require('fs'), vm = require('vm');
const listeners = {};
let opened = '-';
const self = {
  location: {origin: 'https://journal.example', href: 'https://journal.example/crieur-sw.js'},
  registration: {scope: 'https://journal.example/', pushManager: {getSubscription: () => Promise.resolve(null)}},
  clients: {matchAll: () => Promise.resolve([]), claim: () => Promise.resolve(),
    openWindow(u) { opened = u; return Promise.resolve(null); }},
  addEventListener(name, fn) { listeners[name] = fn; },
  skipWaiting() {},
};
vm.runInNewContext(fs.readFileSync(process.argv[2], 'utf8'), {self, URL, Response, caches: undefined, fetch: undefined, atob, console});
(async () => {
  for (const url of JSON.parse(process.argv[3])) {
    opened = '-';
    let p = Promise.resolve();
    listeners.notificationclick({notification: {close() {}, data: {url, alert_id: '1'}}, waitUntil(x) { p = x; }});
    try { await p; } catch (e) { opened = 'rejected: ' + e.message; }
    console.log(opened);
  }
})();
`

// TestServiceWorkerOpensOnlyWebPages: a notification's click opens its
// URL only when it is http(s): a javascript:, data:, file: or
// protocol-relative URL (whatever a payload carried) opens nothing.
func TestServiceWorkerOpensOnlyWebPages(t *testing.T) {
	t.Parallel()
	node := testenv.LookPath(t, "node", "nodejs")
	dir := t.TempDir()
	src, err := fs.ReadFile(templates.FS, "static/push/sw.js")
	if err != nil {
		t.Fatal(err)
	}
	swPath, harness := filepath.Join(dir, "sw.js"), filepath.Join(dir, "click.js")
	if err := os.WriteFile(swPath, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(harness, []byte(swClickHarness), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ url, want string }{
		{"https://journal.example/a", "https://journal.example/a"},
		{"HTTP://journal.example/b", "HTTP://journal.example/b"},
		{"javascript:alert(document.domain)", "-"},
		{" javascript:alert(1)", "-"},
		{"JaVaScRiPt:alert(1)", "-"},
		{"data:text/html,<script>alert(1)</script>", "-"},
		{"file:///etc/passwd", "-"},
		{"//evil.example/x", "-"},
		{"", "-"},
	}
	var urls []string
	for _, c := range cases {
		urls = append(urls, c.url)
	}
	arg, _ := json.Marshal(urls)
	out, err := exec.Command(node, harness, swPath, string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(got) != len(cases) {
		t.Fatalf("node printed %q", out)
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("click on a notification for %q opened %q, want %q", c.url, got[i], c.want)
		}
	}
}
