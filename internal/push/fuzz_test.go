package push_test

import (
	"encoding/base64"
	"testing"

	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

func FuzzValidateSubscriptionKeys(f *testing.F) {
	b := pushtest.NewBrowser()
	f.Add(b.P256dh, b.Auth)
	f.Add(rfcUAPublic, rfcAuth)
	f.Add(rfcUAPublic+"=", rfcAuth+"==")
	f.Add("BCVxsr7N/eNgVRqvHtD0zTZsEc6+VV+JvLexhqUzORcxaOzi6+AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4=", "BTBZMqHH6r4Tts7J/aSIgg==")
	f.Add("", "")
	f.Add("AAAA", "====")
	f.Fuzz(func(t *testing.T, p256dh, auth string) {
		err := push.ValidateSubscriptionKeys(p256dh, auth)
		if err != nil {
			return
		}
		// Accepted keys are usable: decodable, the right sizes.
		dec := func(s string) []byte {
			for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
				if b, err := enc.DecodeString(s); err == nil {
					return b
				}
			}
			return nil
		}
		if k := dec(p256dh); k != nil && (len(k) != 65 || k[0] != 4) {
			t.Errorf("accepted p256dh of %d bytes", len(k))
		}
		if a := dec(auth); a != nil && len(a) != 16 {
			t.Errorf("accepted auth of %d bytes", len(a))
		}
	})
}

func FuzzTopicFor(f *testing.F) {
	for _, s := range []string{"", "alert-1", "é", "\x00\xff", "a very long string indeed, longer than thirty-two characters"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := push.TopicFor(s)
		if !push.ValidTopic(got) || len(got) != push.MaxTopicLen {
			t.Fatalf("TopicFor(%q) = %q is not a valid topic", s, got)
		}
		if push.TopicFor(s) != got {
			t.Fatal("not deterministic")
		}
		if push.ValidTopic(s) && len(s) > push.MaxTopicLen {
			t.Fatalf("ValidTopic accepted %d chars", len(s))
		}
	})
}

// Whatever a push service answers, the HTTP/1.1 pool neither panics nor
// reuses a connection whose answer it did not read to its end.
func FuzzH1Answer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\nno",
		"HTTP/1.0 201 Created\r\n\r\nbody",
		"HTTP/1.1 410 Gone\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye",
		"HTTP/1.1 201\nContent-Length: 1\n\nx",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		status, _, head, reuse, err := push.ReadAnswer(raw)
		if err != nil {
			if reuse {
				t.Fatalf("reuse after %v", err)
			}
			return
		}
		if status < 100 || status > 999 || len(head) > 512 {
			t.Fatalf("status %d, head %d bytes", status, len(head))
		}
	})
}
