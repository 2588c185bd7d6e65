package bounce_test

import (
	"context"
	"testing"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/bouncetest"
)

// BenchmarkHandle is one report's whole intake (parse, classify, verify
// the reference, record to a no-op recorder), for the Gmail DSN (the
// largest fixture, 5 KiB with nested multiparts and an attached original).
func BenchmarkHandle(b *testing.B) {
	raw := fixture(b, "gmail-no-such-user.eml")
	in := newIntake(&bouncetest.Recorder{Outcome: bounce.Ignored})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if res, err := in.Handle(context.Background(), "smtp", nil, raw); err != nil || res != bounce.ResultIgnored {
			b.Fatal(res, err)
		}
	}
}
