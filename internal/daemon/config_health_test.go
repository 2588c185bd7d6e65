package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/bounce/provider/providertest"
	"github.com/crieur/crieur/internal/daemon"
	"github.com/crieur/crieur/internal/store"
)

// TestListHealthSettings: the defaults are the contract's (3 soft bounces
// in 15 days, push pruned after 30 days failing or 90 without a delivery);
// each setting is read in its documented form and a bad value is refused
// at start naming the setting.
func TestListHealthSettings(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	c, err := daemon.Load("", envOf())
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Health; h.SoftBounces != (store.SoftPolicy{Count: 3, Window: 15 * day}) || h.PushFailingFor != 30*day || h.PushStaleAfter != 90*day {
		t.Fatalf("defaults %+v", h)
	}
	sg := providertest.NewSendGrid(t)
	c, err = daemon.Load("", envOf("CRIEUR_SOFT_BOUNCES", "5/7d", "CRIEUR_PUSH_PRUNE_FAILING", "14d", "CRIEUR_PUSH_PRUNE_STALE", "1440h",
		"CRIEUR_BOUNCE_SES_TOPIC_ARNS", "arn:aws:sns:eu-west-1:123456789012:bounces", "CRIEUR_BOUNCE_SENDGRID_KEY", sg.PublicKey,
		"CRIEUR_BOUNCE_POSTMARK_AUTH", "crieur:a-long-password", "CRIEUR_BOUNCE_MAILGUN_KEY", "key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Health; h.SoftBounces != (store.SoftPolicy{Count: 5, Window: 7 * day}) || h.PushFailingFor != 14*day || h.PushStaleAfter != 60*day ||
		len(h.SESTopicARNs) != 1 || h.PostmarkAuth != "crieur:a-long-password" {
		t.Fatalf("settings %+v", h)
	}
	for _, b := range [][]string{
		{"CRIEUR_SOFT_BOUNCES", "3"}, {"CRIEUR_SOFT_BOUNCES", "0/15d"}, {"CRIEUR_SOFT_BOUNCES", "3/fortnight"}, {"CRIEUR_SOFT_BOUNCES", "3/-2d"},
		{"CRIEUR_PUSH_PRUNE_FAILING", "a month"}, {"CRIEUR_PUSH_PRUNE_STALE", "0d"},
		{"CRIEUR_BOUNCE_SES_TOPIC_ARNS", "bounces"}, {"CRIEUR_BOUNCE_SENDGRID_KEY", "not-a-key"},
		{"CRIEUR_BOUNCE_POSTMARK_AUTH", "nopassword"}, {"CRIEUR_BOUNCE_POSTMARK_AUTH", "u:short"}, {"CRIEUR_BOUNCE_MAILGUN_KEY", "k"},
	} {
		_, err := daemon.Load("", envOf(b...))
		if err == nil || !strings.Contains(err.Error(), b[0]) {
			t.Errorf("%s=%s: error %v, want one naming the setting", b[0], b[1], err)
		}
	}
}
