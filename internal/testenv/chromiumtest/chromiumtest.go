// Package chromiumtest launches the headless Chromium that browser tests
// drive, with the flags they all need, so that each test says only what
// is its own (a window size, a user agent, a time budget).
//
// Only tests import it; it imports no crieur package but testenv.
package chromiumtest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crieur/crieur/internal/testenv"
)

// Path returns the Chromium to launch, or skips the test (fails it under
// CI) when there is none. Tests call it first, before their setup.
func Path(tb testing.TB) string {
	tb.Helper()
	return testenv.LookPath(tb, "chromium", "chromium-browser")
}

// Open launches the Chromium at path, headless with a fresh profile, and
// returns a tab whose context ends after timeout. extra options come after
// the common ones. cancel closes the tab and the browser; callers defer
// it, so that a test opening several browsers in turn keeps one at a time.
func Open(tb testing.TB, path string, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
	tb.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		// Nothing but the test's own requests: no update or sync traffic
		// racing what the test waits for.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(tb.TempDir()),
	}, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	return ctx, func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	}
}
