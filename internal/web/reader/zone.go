package reader

import (
	"net/url"

	"github.com/crieur/crieur/internal/news"
)

// zoneField is the reader's time zone in the subscribe form (a hidden
// field its script fills with the browser's zone) and the preference
// center (a text field, with the zones the browser knows to pick from).
type zoneField struct {
	Timezone      string // as posted or stored; "" for CRIEUR_TIMEZONE
	DefaultZone   string // CRIEUR_TIMEZONE, shown when the reader has none
	TimezoneError string
	ZoneVisible   bool // a field to read and change, not a hidden one
}

// postedZone is the zone a preference form posts; a form without the
// field (a page from before it, a publisher's own form) keeps the
// reader's.
func postedZone(f url.Values, sub news.Subscriber) string {
	if _, ok := f["timezone"]; !ok {
		return sub.Timezone
	}
	return f.Get("timezone")
}
