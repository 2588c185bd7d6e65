package dispatch

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
)

// MessageBuilder composes each kind of email from the store, the
// templates and the reader's signed links, and signs it when DKIM is set.
type MessageBuilder struct {
	Store     *store.Store
	Composer  *compose.Composer
	Subscribe *subscribe.Service
	DKIM      *mail.DKIM // nil: unsigned
	From      string
	// ListID is the digests' List-Id, `Name <digest.example.com>`;
	// FeedbackBrand names the sender in Feedback-ID.
	ListID string
	// AlertListID is the List-Id of alert emails, which are not the
	// digest list. Empty: ListID with its id's leading "digest." turned
	// into "alerts." (`Name <alerts.example.com>`), see DefaultAlertListID.
	AlertListID   string
	FeedbackBrand string
	Location      *time.Location
	Now           func() time.Time
	// MessageID, when set, gives each email its Message-ID (one a bounce
	// quoting it can be traced back by); nil: a random one.
	MessageID func(store.Delivery) string
	// Clicks makes the tracked links of stories (nil: direct links).
	Clicks Linker

	articles sync.Map // id → news.Article; articles never change once stored
	topics   topicCache
	alerts   sync.Map // id → store.AlertInfo
	qpLines  mail.QPLines
}

type topicCache struct {
	mu   sync.Mutex
	at   time.Time
	list []news.Topic
}

func (b *MessageBuilder) topicList(ctx context.Context) ([]news.Topic, error) {
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	if b.topics.list != nil && time.Since(b.topics.at) < 30*time.Second {
		return b.topics.list, nil
	}
	ts, err := b.Store.Topics(ctx)
	if err != nil {
		return nil, err
	}
	b.topics.list, b.topics.at = ts, time.Now()
	return ts, nil
}

func (b *MessageBuilder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *MessageBuilder) article(ctx context.Context, id int64) (news.Article, error) {
	if a, ok := b.articles.Load(id); ok {
		return a.(news.Article), nil
	}
	a, err := b.Store.Article(ctx, id)
	if err != nil {
		return a, err
	}
	b.articles.Store(id, a)
	return a, nil
}

func (b *MessageBuilder) alert(ctx context.Context, id int64) (store.AlertInfo, error) {
	if a, ok := b.alerts.Load(id); ok {
		return a.(store.AlertInfo), nil
	}
	a, err := b.Store.AlertBare(ctx, id)
	if err != nil {
		return a, err
	}
	b.alerts.Store(id, a)
	return a, nil
}

// AlertCancelled forgets what the builder knew of alert id, so that the
// alert emails already claimed see the cancel and stay unsent.
func (b *MessageBuilder) AlertCancelled(id int64) { b.alerts.Delete(id) }

// Build composes one claimed delivery.
func (b *MessageBuilder) Build(ctx context.Context, d store.Delivery) (string, []byte, error) {
	return b.BuildAppend(ctx, d, nil)
}

// BuildAppend is Build composed into dst's storage (see mail.AppendBytes).
func (b *MessageBuilder) BuildAppend(ctx context.Context, d store.Delivery, dst []byte) (string, []byte, error) {
	var sub news.Subscriber
	// A preview is read as its sample reader (Meta) even when an older row
	// still names the reader it previewed: it must carry none of their links.
	switch {
	case d.SubscriberID == 0 || d.Kind == news.MailPreview:
	case d.Reader != nil && d.Reader.ID == d.SubscriberID:
		sub = *d.Reader // read with the claim
	default:
		var err error
		sub, err = b.Store.SubscriberByID(ctx, d.SubscriberID)
		if err != nil {
			return "", nil, err
		}
	}
	topics, err := b.topicList(ctx)
	if err != nil {
		return "", nil, err
	}
	var links subscribe.Links
	if d.Kind == news.MailPreview {
		links = b.Subscribe.PreviewLinks()
	} else {
		links = b.Subscribe.LinksFor(sub)
	}
	if d.Kind == news.MailConfirm || d.Kind == news.MailLinks {
		// Emails a reader's page can trigger (confirmation, preference
		// link, sign out everywhere) never go to an address that bounced
		// or complained, whatever its status says; the page's answer was
		// the same either way.
		blocked, err := b.Store.HardSuppressed(ctx, b.Subscribe.Hash(sub.Email))
		if err != nil {
			return "", nil, err
		}
		if blocked {
			return "", nil, fmt.Errorf("address suppressed: %w", ErrNotDeliverable)
		}
	}
	msg := mail.Message{From: b.From, To: sub.Email, Date: b.now()}
	if b.MessageID != nil {
		msg.MessageID = b.MessageID(d)
	}
	var email compose.Email
	switch d.Kind {
	case news.MailConfirm:
		if sub.Status != news.Pending {
			return "", nil, ErrNotDeliverable
		}
		email, err = b.Composer.Confirm(compose.ConfirmData{Lang: sub.Lang, ConfirmURL: links.Confirm,
			Topics: news.NamedTopics(topics, sub.Topics), Frequency: sub.Frequency})
	case news.MailLinks:
		if !subscribe.LinksDeliverable(sub.Status) {
			return "", nil, ErrNotDeliverable
		}
		// The links are signed now, in the generation of this moment: the
		// email that follows "sign out everywhere" carries working links.
		email, err = b.Composer.Links(compose.LinksData{Lang: sub.Lang, PreferencesURL: links.Preferences, UnsubscribeURL: links.Unsubscribe})
	case news.MailDigest, news.MailPreview:
		if d.Kind == news.MailDigest && sub.Status != news.Confirmed {
			return "", nil, ErrNotDeliverable
		}
		arts := make([]news.Article, 0, len(d.Articles))
		for _, id := range d.Articles {
			a, err := b.article(ctx, id)
			if err != nil {
				continue // deleted since: send the rest
			}
			arts = append(arts, a)
		}
		if len(arts) == 0 {
			return "", nil, fmt.Errorf("digest %d: %w", d.ID, ErrNotDeliverable)
		}
		lang, freq, subTopics := sub.Lang, sub.Frequency, sub.Topics
		if d.Kind == news.MailPreview {
			msg.To = d.Rcpt
			lang, freq, subTopics = sampleReader(d.Meta)
		}
		if d.Kind == news.MailDigest {
			arts = b.trackedArticles(arts, d.RunID, sub.ID)
		}
		email, err = b.Composer.DigestShared(compose.DigestData{Lang: lang, Frequency: freq, Articles: arts, More: d.More,
			Topics: news.NamedTopics(topics, subTopics), PreferencesURL: links.Preferences, UnsubscribeURL: links.Unsubscribe,
			Date: b.now().In(b.location())})
		// A preview has no List-Unsubscribe: the editor's mail client
		// would offer to unsubscribe from it, which means nothing.
		if d.Kind != news.MailPreview {
			msg.ListUnsubscribe = links.Unsubscribe
		}
		msg.ListID = b.ListID
		msg.FeedbackID = "digest-" + string(freq) + ":" + strconv.FormatInt(d.RunID, 10) + ":" + b.FeedbackBrand + ":crieur"
		msg.Bulk = true
	case news.MailAlert:
		if sub.Status != news.Confirmed || !sub.Alerts {
			return "", nil, ErrNotDeliverable
		}
		a, err2 := b.alert(ctx, d.AlertID)
		if err2 != nil {
			return "", nil, err2
		}
		if a.State == news.AlertCancelled {
			return "", nil, fmt.Errorf("alert %d cancelled: %w", d.AlertID, ErrNotDeliverable)
		}
		email, err = b.Composer.Alert(compose.AlertData{Lang: sub.Lang, Title: a.Title, Body: a.Body, URL: b.trackedAlertURL(d.AlertID, sub.ID, a.URL), ImageURL: a.ImageURL,
			PreferencesURL: links.Preferences, UnsubscribeURL: links.Unsubscribe})
		msg.ListUnsubscribe = links.Unsubscribe
		msg.ListID = b.AlertListID
		if msg.ListID == "" {
			msg.ListID = DefaultAlertListID(b.ListID)
		}
		msg.FeedbackID = "alert:" + strconv.FormatInt(d.AlertID, 10) + ":" + b.FeedbackBrand + ":crieur"
		msg.Bulk = true
	case news.MailWelcome:
		email, err = b.welcome(ctx, sub, links)
		msg.ListUnsubscribe = links.Unsubscribe
		msg.ListID = b.ListID
		msg.FeedbackID = "welcome:" + string(sub.Lang) + ":" + b.FeedbackBrand + ":crieur"
	case news.MailSunset:
		email, err = b.sunsetEmail(sub, links, &msg)
	default:
		return "", nil, fmt.Errorf("unknown delivery kind %q", d.Kind)
	}
	if err != nil {
		return "", nil, err
	}
	msg.Subject, msg.Text, msg.HTML = email.Subject, email.Text, email.HTML
	// The start of a digest is the same for thousands of readers: encoded
	// once, kept with the composer's copy of it, its lines shared with the
	// digests of other topics.
	if email.TextHead != nil {
		msg.TextHead = email.TextHead.Memo(b.qpLines.Encode)
	}
	if email.HTMLHead != nil {
		msg.HTMLHead = email.HTMLHead.Memo(b.qpLines.Encode)
	}
	raw, err := msg.AppendBytes(dst)
	if err != nil {
		return "", nil, err
	}
	if b.DKIM != nil {
		if raw, err = b.DKIM.Sign(raw); err != nil {
			return "", nil, err
		}
	}
	return msg.To, raw, nil
}

// DefaultAlertListID derives the alerts' List-Id from the digests' one
// (`Name <id>`, `<id>` or a bare id): the id's leading "digest." label
// becomes "alerts.", or "alerts." is put in front of an id without it, so
// "Le Journal <digest.news.example>" gives "Le Journal <alerts.news.example>".
// A malformed value is returned as given, for the mail package to refuse.
func DefaultAlertListID(digestListID string) string {
	s := strings.TrimSpace(digestListID)
	if s == "" {
		return ""
	}
	name, id, bracketed := "", s, false
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if !strings.HasSuffix(s, ">") {
			return digestListID
		}
		name, id, bracketed = s[:i], strings.TrimSpace(s[i+1:len(s)-1]), true
	}
	id = "alerts." + strings.TrimPrefix(id, "digest.")
	if !bracketed {
		return id
	}
	return name + "<" + id + ">"
}

// sampleReader reads a preview's sample-reader settings; missing or bad
// values fall back to a French daily reader of every topic.
func sampleReader(meta string) (news.Lang, news.Frequency, []string) {
	v, _ := url.ParseQuery(meta)
	lang, freq := news.Lang(v.Get("lang")), news.Frequency(v.Get("frequency"))
	if !lang.Valid() {
		lang = news.French
	}
	if !freq.Valid() {
		freq = news.Daily
	}
	var topics []string
	if t := v.Get("topics"); t != "" {
		topics = strings.Split(t, ",")
	}
	return lang, freq, topics
}

func (b *MessageBuilder) location() *time.Location {
	if b.Location != nil {
		return b.Location
	}
	return time.UTC
}

// welcome composes the welcome email of a reader who confirmed, from the
// texts the desk holds now: one turned off or emptied since it was queued
// is not sent.
func (b *MessageBuilder) welcome(ctx context.Context, sub news.Subscriber, links subscribe.Links) (compose.Email, error) {
	if sub.Status != news.Confirmed {
		return compose.Email{}, ErrNotDeliverable
	}
	on, err := b.Store.WelcomeEnabled(ctx)
	if err != nil {
		return compose.Email{}, err
	}
	text, paras, err := b.Store.WelcomeFor(ctx, sub.ID, sub.Lang)
	if err != nil {
		return compose.Email{}, err
	}
	if !on || strings.TrimSpace(text.Body) == "" {
		return compose.Email{}, fmt.Errorf("welcome email off or without text in %s: %w", sub.Lang, ErrNotDeliverable)
	}
	return b.Composer.Welcome(compose.WelcomeData{Lang: sub.Lang, Subject: text.Subject, Body: text.Body, TopicParagraphs: paras,
		PreferencesURL: links.Preferences, UnsubscribeURL: links.Unsubscribe})
}
