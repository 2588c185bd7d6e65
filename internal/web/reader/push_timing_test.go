package reader_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/web/webtest"
)

// TestPushSubscriptionTiming: a browser's zone, quiet hours and daily cap
// are stored as sent and replaced by a later post of the same endpoint;
// an unknown zone, malformed or empty quiet hours and a cap below 1 are
// refused with 400 invalid_input naming the field, and store nothing.
func TestPushSubscriptionTiming(t *testing.T) {
	t.Parallel()
	e := webtest.New(t)
	keys := newFuzzKeys(t)
	post := func(endpoint, extra string) *httptest.ResponseRecorder {
		body := fmt.Sprintf(`{"subscription":{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}},"topics":["politique"],"lang":"fr"%s}`,
			endpoint, keys[0], keys[1], extra)
		return webtest.Post(e.Handler, "/api/v1/push/subscriptions", "application/json", body)
	}
	stored := func(endpoint string) string {
		t.Helper()
		var tz string
		var from, to, capN int
		err := e.Store.DB().QueryRow("SELECT timezone, quiet_from, quiet_to, max_per_day FROM push_subscriptions WHERE endpoint = ?", endpoint).Scan(&tz, &from, &to, &capN)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%s %d-%d cap %d", tz, from, to, capN)
	}
	const ep = "http://127.0.0.1:9/push/1"
	if rec := post(ep, `,"timezone":"Asia/Kathmandu","quiet_hours":{"from":"22:00","to":"07:00"},"max_per_day":3`); rec.Code != 201 {
		t.Fatalf("subscribe with timing: %d %s", rec.Code, rec.Body)
	}
	if got := stored(ep); got != "Asia/Kathmandu 1320-420 cap 3" {
		t.Fatalf("stored %s", got)
	}
	if rec := post(ep, `,"timezone":"America/Montreal"`); rec.Code != 200 {
		t.Fatalf("subscribe again: %d %s", rec.Code, rec.Body)
	}
	if got := stored(ep); got != "America/Montreal 0-0 cap 0" {
		t.Fatalf("after re-subscribing without quiet hours or cap: %s", got)
	}
	for _, c := range []struct{ extra, field string }{
		{`,"timezone":"Europe/Pariss"`, "timezone"},
		{`,"timezone":"Local"`, "timezone"},
		{`,"quiet_hours":{"from":"22:00","to":"22:00"}`, "quiet_hours"},
		{`,"quiet_hours":{"from":"22h","to":"07:00"}`, "quiet_hours"},
		{`,"quiet_hours":{}`, "quiet_hours"},
		{`,"max_per_day":0`, "max_per_day"},
		{`,"max_per_day":-1`, "max_per_day"},
	} {
		rec := post("http://127.0.0.1:9/push/bad", c.extra)
		if e := mustAPIError(t, rec, 400, "invalid_input"); e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.field) {
			t.Errorf("%s: field %q, message %q", c.extra, e.Error.Field, e.Error.Message)
		}
	}
	if got := stored("http://127.0.0.1:9/push/bad"); !strings.Contains(got, "no rows") {
		t.Fatalf("a refused subscription was stored: %s", got)
	}
}
