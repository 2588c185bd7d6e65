package web

import (
	"errors"
	"mime"
	"net/http"

	"github.com/crieur/crieur/internal/news"
)

// MaxFormBody is the largest form body accepted before authentication
// (the reader pages, the admin login, one-click unsubscribe): their
// fields fit in a few hundred bytes, and a client that has proven nothing
// must not make the daemon hold megabytes.
const MaxFormBody = 16 << 10

// ParseForm reads an urlencoded form body of at most MaxFormBody into
// r.PostForm: 413 beyond, and 415 for multipart, whose parser spools
// files and parts a small form never has.
func ParseForm(w http.ResponseWriter, r *http.Request) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		return &news.Error{Code: news.CodeUnsupportedMedia, Message: "The form must be sent urlencoded."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBody)
	return FormError(r.ParseForm())
}

// FormError is what a user is told about a form that could not be read:
// 413 when too large, 400 otherwise.
func FormError(err error) error {
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &news.Error{Code: news.CodeTooLarge, Message: "The form is too large.", Err: err}
	}
	return &news.Error{Code: news.CodeInvalid, Message: "The form could not be read.", Err: err}
}
