package compose

import "strconv"

// goKeys are the strings the Go code of this package looks up.
func goKeys() []string {
	keys := []string{
		"date.day_1", "date.long", "date.short",
		"email.all_topics", "email.text.link",
		"email.footer.reason_daily", "email.footer.reason_weekly",
		"email.footer.reason_alert", "email.footer.reason_confirm",
		"email.digest.subject_daily", "email.digest.subject_weekly",
		"email.digest.subject_daily_all", "email.digest.subject_weekly_all",
		"email.digest.heading_daily", "email.digest.heading_weekly",
		"email.digest.intro", "email.digest.intro_all", "email.digest.by",
		"email.digest.more.one", "email.digest.more.other",
		"email.confirm.subject", "email.confirm.preheader",
		"email.confirm.what_daily", "email.confirm.what_weekly",
		"email.alert.subject",
	}
	for m := 1; m <= 12; m++ {
		keys = append(keys, "date.month."+strconv.Itoa(m))
	}
	return keys
}
