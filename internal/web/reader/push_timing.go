package reader

import (
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/quiet"
)

// maxPerDay is the highest daily cap a browser may ask for: more is no cap.
const maxPerDay = 1000

// pushTiming reads a browser's zone, quiet hours and daily cap into ps. A
// zone crieur does not know is refused (400 invalid_input) rather than
// read as the daemon's: quiet hours in the wrong zone would wake the
// reader.
func pushTiming(ps *news.PushSubscription, in pushSubJSON) error {
	if in.Timezone != "" {
		if _, err := quiet.Zone(in.Timezone); err != nil {
			return news.FieldError(news.CodeInvalid, "timezone", "timezone must be an IANA time zone name such as Europe/Paris")
		}
		ps.Timezone = in.Timezone
	}
	if q := in.QuietHours; q != nil {
		h, err := quiet.ParseHours(q.From, q.To)
		if err != nil {
			return news.FieldError(news.CodeInvalid, "quiet_hours", "quiet_hours must be {\"from\": \"22:00\", \"to\": \"07:00\"}, two different times of day")
		}
		ps.QuietFrom, ps.QuietTo = h.From, h.To
	}
	if in.MaxPerDay != nil {
		if *in.MaxPerDay < 1 || *in.MaxPerDay > maxPerDay {
			return news.FieldError(news.CodeInvalid, "max_per_day", "max_per_day must be between 1 and %d", maxPerDay)
		}
		ps.MaxPerDay = *in.MaxPerDay
	}
	return nil
}
