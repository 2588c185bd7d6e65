package subscribe

import (
	"context"
	"errors"
	"fmt"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Links are the URLs a reader's emails carry.
type Links struct {
	Confirm, Preferences, Unsubscribe string
}

// LinksFor returns the signed links of a subscriber, in the subscriber's
// current link generation (sub.LinkGen).
func (s *Service) LinksFor(sub news.Subscriber) Links {
	return Links{
		Confirm:     s.base + "/confirm/" + s.tokens.Sign(PurposeConfirm, sub.ID, sub.LinkGen, ConfirmTTL),
		Preferences: s.base + "/preferences/" + s.tokens.Sign(PurposePreferences, sub.ID, sub.LinkGen, 0),
		Unsubscribe: s.base + "/unsubscribe/" + s.tokens.Sign(PurposeUnsubscribe, sub.ID, sub.LinkGen, 0),
	}
}

// Lookup returns the subscriber a token names, for purpose. A link of an
// older generation than the reader's (their links were revoked since) is
// refused with CodeRevokedToken, and so is a link whose reader is gone
// (erased, or expired unconfirmed: the error then also wraps
// store.ErrNotFound). Unsubscribe links are the exception: a revoked one
// still finds its reader, since unsubscribing is always safe and RFC 8058
// wants the List-Unsubscribe of every email ever sent to keep working.
func (s *Service) Lookup(ctx context.Context, token string, p Purpose) (news.Subscriber, error) {
	link, err := s.tokens.Verify(token, p)
	if err != nil {
		return news.Subscriber{}, tokenError(err)
	}
	sub, err := s.st.SubscriberByID(ctx, link.ID)
	if errors.Is(err, store.ErrNotFound) {
		code := news.CodeRevokedToken
		if p == PurposeUnsubscribe {
			code = news.CodeInvalidToken
		}
		return sub, &news.Error{Code: code, Message: "This link is no longer valid.", Err: err}
	}
	if err != nil {
		return sub, err
	}
	if p != PurposeUnsubscribe && link.Gen != sub.LinkGen {
		return news.Subscriber{}, &news.Error{Code: news.CodeRevokedToken, Message: "This link was revoked: use the one in the latest email."}
	}
	return sub, nil
}

// RevokeLinks makes every link sent to subscriber id so far stop working,
// but unsubscribing (see Lookup), and returns the subscriber as they are
// now, with their new generation.
func (s *Service) RevokeLinks(ctx context.Context, id int64) (news.Subscriber, error) {
	if _, err := s.st.RevokeLinks(ctx, id, s.now()); err != nil {
		return news.Subscriber{}, err
	}
	s.log.Info("subscriber links revoked", "subscriber_id", id)
	return s.st.SubscriberByID(ctx, id)
}

// SignOutEverywhere is the reader's own revocation, from the preference
// center: their links stop working and an email brings them a new
// preference link. It needs no rate limit: the link it came through no
// longer works afterwards, so a second request needs the new link, which
// only the reader's mailbox receives.
func (s *Service) SignOutEverywhere(ctx context.Context, id int64) error {
	if _, err := s.st.RevokeLinks(ctx, id, s.now()); err != nil {
		return fmt.Errorf("sign out everywhere: %w", err)
	}
	s.log.Info("subscriber links revoked", "subscriber_id", id)
	if err := s.st.EnqueueLinks(ctx, id, s.now()); err != nil {
		return fmt.Errorf("sign out everywhere: %w", err)
	}
	s.wake()
	return nil
}

// EmailLinks queues an email with the reader's preference link, to the
// reader's own address, asked for from the unsubscribe page: that page is
// open to whoever sees an email's List-Unsubscribe header, so it shows
// the link to no one but sends it to the mailbox it belongs to. It is
// rate-limited by client and by address, with a budget per address of
// its own: subscription requests, which anyone can make for any address,
// do not spend it. It answers the same whether or not anything was queued. A revoked
// unsubscribe link may ask too: the mail goes to the reader, in the
// current generation.
func (s *Service) EmailLinks(ctx context.Context, token, client string) error {
	sub, err := s.Lookup(ctx, token, PurposeUnsubscribe)
	if errors.Is(err, store.ErrNotFound) {
		return nil // erased: nobody to write to, and nothing to tell
	}
	if err != nil {
		return err
	}
	now := s.now()
	if ok, wait := s.perClient.Allow("client:"+client, now); !ok {
		return &news.Error{Code: news.CodeRateLimited, Message: "Too many requests; try again later.", RetryAfter: wait}
	}
	if ok, wait := s.perLinks.Allow(s.Hash(sub.Email), now); !ok {
		return &news.Error{Code: news.CodeRateLimited, Message: "Too many requests for this address; try again later.", RetryAfter: wait}
	}
	if !LinksDeliverable(sub.Status) {
		return nil
	}
	if err := s.st.EnqueueLinks(ctx, sub.ID, now); err != nil {
		return err
	}
	s.wake()
	return nil
}

// LinksDeliverable reports whether a reader in status may be sent their
// preference link: one who confirmed, or who unsubscribed and may want to
// come back; never an address that bounced or complained, nor one never
// confirmed.
func LinksDeliverable(status news.Status) bool {
	return status == news.Confirmed || status == news.Unsubscribed
}
