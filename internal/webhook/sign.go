// Package webhook sends crieur's events to the endpoints an admin
// registered, as the Standard Webhooks specification describes them
// (https://www.standardwebhooks.com): each request carries webhook-id,
// webhook-timestamp and webhook-signature ("v1," and the base64
// HMAC-SHA256 of "id.timestamp.body" keyed with the endpoint's whsec_
// secret), so that integrators verify it with an existing library.
//
// The store writes events to an outbox in the transaction of the change
// they tell of; the Deliverer claims them like the other queues (claim
// numbers, a lease, dead owners' claims taken back at start) and posts
// them at least once, in order per subscriber, retrying with back-off.
// Service is what the API and the desk call to register, list, delete
// and test endpoints.
//
// It imports store, news, netguard and dispatch (for its back-off and
// owner names); web imports it, never the other way round.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// secretPrefix starts every signing secret (Standard Webhooks).
const secretPrefix = "whsec_"

// NewSecret makes an endpoint's signing secret: whsec_ and 32 random
// bytes in base64.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ErrBadSecret is returned for a secret that is not whsec_ and base64.
var ErrBadSecret = errors.New("webhook secret must be whsec_ and base64")

func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, ErrBadSecret
	}
	return key, nil
}

// Sign returns the webhook-signature header of one message: "v1," and
// the base64 HMAC-SHA256 of "msgID.timestamp.body".
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// Tolerance is how far a message's timestamp may be from the verifier's
// clock (Standard Webhooks' default).
const Tolerance = 5 * time.Minute

// ErrBadSignature is returned by Verify for a message it refuses.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a received message as a receiver would: the timestamp
// within Tolerance of now, and one of the space-separated signatures of
// sigHeader ("v1,…") matching. It is what the README's receiver does.
func Verify(secret, msgID, tsHeader, sigHeader string, body []byte, now time.Time) error {
	sec, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", ErrBadSignature)
	}
	ts := time.Unix(sec, 0)
	if ts.Before(now.Add(-Tolerance)) || ts.After(now.Add(Tolerance)) {
		return fmt.Errorf("%w: timestamp too far from now", ErrBadSignature)
	}
	want, err := Sign(secret, msgID, ts, body)
	if err != nil {
		return err
	}
	for _, sig := range strings.Fields(sigHeader) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
