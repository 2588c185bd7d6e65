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
