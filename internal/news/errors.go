package news

import (
	"errors"
	"fmt"
	"time"
)

// Code is the machine-readable reason of an error a user sees. The web
// layer maps each code to an HTTP status in one place.
type Code string

// The codes users may see.
const (
	CodeInvalid            Code = "invalid_input"
	CodeInvalidEmail       Code = "invalid_email"
	CodeUnknownTopic       Code = "unknown_topic"
	CodeInvalidToken       Code = "invalid_token"
	CodeExpiredToken       Code = "expired_token"
	CodeRevokedToken       Code = "revoked_token"
	CodeNotFound           Code = "not_found"
	CodeConflict           Code = "conflict"
	CodeRateLimited        Code = "rate_limited"
	CodeUnauthorized       Code = "unauthorized"
	CodeForbidden          Code = "forbidden"
	CodeEndpointNotAllowed Code = "endpoint_not_allowed"
	CodeInvalidKeys        Code = "invalid_keys"
	CodeTooLarge           Code = "body_too_large"
	CodeUnsupportedMedia   Code = "unsupported_media_type"
)

// Error is an error meant for the person who caused it: a code, one
// sentence, and optionally the field at fault and when to retry.
type Error struct {
	Code       Code
	Message    string
	Field      string
	RetryAfter time.Duration
	Err        error // the underlying cause, never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an *Error naming the field at fault.
func FieldError(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
