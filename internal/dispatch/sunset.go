package dispatch

import (
	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/subscribe"
)

// sunsetEmail is the "still want this?" email (CRIEUR_SUNSET_AFTER): its
// button opens the reader's preference center, which asks them to confirm
// with a POST, so that a mail scanner's fetch answers nothing.
func (b *MessageBuilder) sunsetEmail(sub news.Subscriber, links subscribe.Links, msg *mail.Message) (compose.Email, error) {
	if sub.Status != news.Confirmed {
		return compose.Email{}, ErrNotDeliverable
	}
	msg.ListUnsubscribe = links.Unsubscribe
	msg.ListID = b.ListID
	msg.Bulk = true
	return b.Composer.Sunset(compose.SunsetData{Lang: sub.Lang, KeepURL: links.Preferences,
		PreferencesURL: links.Preferences, UnsubscribeURL: links.Unsubscribe})
}
