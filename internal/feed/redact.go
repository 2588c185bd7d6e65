package feed

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/crieur/crieur/internal/redact"
)

// urlInText finds the URLs an error message may hold: net/http quotes the
// request URL ("Get \"https://…\": …"), with its password already replaced
// by "***" but its query as is.
var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>\x60]+`)

// redactText applies redact.URL to every URL in s.
func redactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, redact.URL)
}

// redactURLError returns err with its URL redacted when it is a *url.Error
// (from url.Parse or an http.Client, which names the URL as given or a
// redirect's Location: the password masked, the query not).
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: redact.URL(ue.URL), Err: ue.Err}
	}
	return err
}

// redactedError is an error whose message has its URLs redacted; errors.Is
// and errors.As still see the original.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactError returns err with the URLs in its message redacted, or nil.
func redactError(err error) error {
	if err == nil {
		return nil
	}
	msg := redactText(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{err: err, msg: msg}
}
