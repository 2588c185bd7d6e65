package daemon

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/provider"
	"github.com/crieur/crieur/internal/store"
)

// ListHealth are the settings of bounce recording, the provider webhooks
// and push subscriptions aging out.
type ListHealth struct {
	// SoftBounces (CRIEUR_SOFT_BOUNCES, "N/Dd"): N soft bounces within D
	// days make a reader bounced.
	SoftBounces store.SoftPolicy
	// PushFailingFor (CRIEUR_PUSH_PRUNE_FAILING): a push subscription
	// whose every message failed for this long is removed.
	PushFailingFor time.Duration
	// PushStaleAfter (CRIEUR_PUSH_PRUNE_STALE): one that failed and had
	// no delivery for this long is removed.
	PushStaleAfter time.Duration
	// The provider webhooks' secrets; empty: that provider is off.
	SESTopicARNs []string // CRIEUR_BOUNCE_SES_TOPIC_ARNS
	SendGridKey  string   // CRIEUR_BOUNCE_SENDGRID_KEY
	PostmarkAuth string   // CRIEUR_BOUNCE_POSTMARK_AUTH, USER:PASSWORD
	MailgunKey   string   // CRIEUR_BOUNCE_MAILGUN_KEY
}

// defaultListHealth is the contract's 3 soft bounces in 15 days, 30 days
// failing and 90 days without a delivery for push.
func defaultListHealth() ListHealth {
	return ListHealth{SoftBounces: store.SoftPolicy{Count: 3, Window: 15 * 24 * time.Hour},
		PushFailingFor: 30 * 24 * time.Hour, PushStaleAfter: 90 * 24 * time.Hour}
}

// loadListHealth reads the list-health settings through get into h and
// returns what is wrong with them.
func loadListHealth(get func(string) (string, bool), h *ListHealth) []string {
	var errs []string
	if v, ok := get("CRIEUR_SOFT_BOUNCES"); ok && v != "" {
		p, err := ParseSoftBounces(v)
		if err != nil {
			errs = append(errs, "CRIEUR_SOFT_BOUNCES: "+err.Error())
		}
		h.SoftBounces = p
	}
	for k, dst := range map[string]*time.Duration{"CRIEUR_PUSH_PRUNE_FAILING": &h.PushFailingFor, "CRIEUR_PUSH_PRUNE_STALE": &h.PushStaleAfter} {
		if v, ok := get(k); ok && v != "" {
			d, err := parseDays(v)
			if err != nil {
				errs = append(errs, k+": "+err.Error())
			}
			*dst = d
		}
	}
	if v, ok := get("CRIEUR_BOUNCE_SES_TOPIC_ARNS"); ok {
		h.SESTopicARNs = strings.Fields(v)
		for _, a := range h.SESTopicARNs {
			if !strings.HasPrefix(a, "arn:aws") || strings.Count(a, ":") != 5 {
				errs = append(errs, fmt.Sprintf("CRIEUR_BOUNCE_SES_TOPIC_ARNS: %q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", a))
			}
		}
	}
	if v, ok := get("CRIEUR_BOUNCE_SENDGRID_KEY"); ok && v != "" {
		h.SendGridKey = v
		if _, err := provider.NewSendGrid(v, nil); err != nil {
			errs = append(errs, "CRIEUR_BOUNCE_SENDGRID_KEY must be the verification key SendGrid shows (base64): "+err.Error())
		}
	}
	if v, ok := get("CRIEUR_BOUNCE_POSTMARK_AUTH"); ok && v != "" {
		h.PostmarkAuth = v
		if u, p, ok := strings.Cut(v, ":"); !ok || u == "" || len(p) < 12 {
			errs = append(errs, "CRIEUR_BOUNCE_POSTMARK_AUTH must be USER:PASSWORD with a password of at least 12 characters")
		}
	}
	if v, ok := get("CRIEUR_BOUNCE_MAILGUN_KEY"); ok && v != "" {
		h.MailgunKey = v
		if len(v) < 16 {
			errs = append(errs, "CRIEUR_BOUNCE_MAILGUN_KEY must be Mailgun's HTTP webhook signing key")
		}
	}
	return errs
}

// ParseSoftBounces reads "N/Dd" (N soft bounces within D days, e.g. the
// default "3/15d"); D may also be a Go duration ("3/360h").
func ParseSoftBounces(v string) (store.SoftPolicy, error) {
	n, d, ok := strings.Cut(strings.TrimSpace(v), "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 1 || count > 100 {
		return store.SoftPolicy{}, fmt.Errorf("want N/Dd, N soft bounces (1 to 100) within D days, such as 3/15d; got %q", v)
	}
	window, err := parseDays(d)
	if err != nil {
		return store.SoftPolicy{}, err
	}
	return store.SoftPolicy{Count: count, Window: window}, nil
}

// parseDays reads "15d" or a Go duration such as "360h"; positive, at
// most ten years.
func parseDays(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days such as 30d", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%q is neither days (30d) nor a duration (720h)", v)
		}
	}
	if d <= 0 || d > 10*365*24*time.Hour {
		return 0, fmt.Errorf("%q must be positive and at most ten years", v)
	}
	return d, nil
}

// providers are the provider webhooks whose secrets are set; refs made
// the emails' Message-IDs (Mailgun's events name readers only by them).
func (h ListHealth) providers(refs *bounce.Tokens) []provider.Provider {
	var out []provider.Provider
	if len(h.SESTopicARNs) > 0 {
		out = append(out, provider.NewSES(provider.SESConfig{TopicARNs: h.SESTopicARNs}))
	}
	if h.SendGridKey != "" {
		if p, err := provider.NewSendGrid(h.SendGridKey, nil); err == nil { // checked by Load
			out = append(out, p)
		}
	}
	if h.PostmarkAuth != "" {
		out = append(out, provider.NewPostmark(h.PostmarkAuth))
	}
	if h.MailgunKey != "" {
		out = append(out, provider.NewMailgun(h.MailgunKey, refs, nil))
	}
	return out
}
