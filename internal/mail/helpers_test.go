package mail_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/mail"
)

// digest returns a realistic French daily digest for to, with a text part
// carrying the same content as the HTML part.
func digest(to string) mail.Message {
	type article struct{ title, summary, url string }
	articles := []article{
		{"Économie : la Banque centrale maintient ses taux", "Le conseil des gouverneurs a décidé jeudi de laisser ses taux directeurs inchangés, en attendant des signes plus nets du ralentissement de l'inflation.", "https://news.example.com/economie/2025/06/05/banque-centrale-taux"},
		{"Afrique : à Dakar, le port bat un record de trafic", "Le port autonome a traité plus de vingt millions de tonnes de marchandises l'an dernier, porté par les exportations minières et agricoles.", "https://news.example.com/afrique/2025/06/05/dakar-port-record"},
		{"Culture : les festivals d'été affichent complet", "De Avignon à Arles, les organisateurs annoncent une fréquentation en hausse et des billetteries déjà saturées pour juillet.", "https://news.example.com/culture/2025/06/05/festivals-ete"},
		{"Sciences : une sonde européenne en route vers Jupiter", "La mission, lancée il y a deux ans, a réussi sa deuxième assistance gravitationnelle autour de la Terre.", "https://news.example.com/sciences/2025/06/05/sonde-jupiter"},
		{"Sport : l'équipe de France qualifiée pour la finale", "Au terme d'un match serré, les Bleues se sont imposées deux buts à un et joueront dimanche pour le titre.", "https://news.example.com/sport/2025/06/05/equipe-de-france-finale"},
	}
	unsub := "https://news.example.com/unsubscribe/eyJzIjoxMjM0LCJwIjoidW5zdWIifQ.c2lnbmF0dXJl"
	prefs := "https://news.example.com/preferences/eyJzIjoxMjM0LCJwIjoicHJlZnMifQ.c2lnbmF0dXJl"
	var text, html strings.Builder
	text.WriteString("Le Journal - L'essentiel du matin\njeudi 5 juin 2025\n\n")
	html.WriteString(`<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>L'essentiel du matin</title></head>` +
		`<body style="margin:0;padding:0;background:#f4f4f4;font-family:Georgia,serif;color:#222"><table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">` +
		`<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="background:#ffffff;max-width:600px"><tr><td style="padding:24px">` +
		`<h1 style="font-size:24px;margin:0 0 4px">Le Journal - L'essentiel du matin</h1><p style="color:#666;margin:0 0 24px">jeudi 5 juin 2025</p>`)
	for _, a := range articles {
		fmt.Fprintf(&text, "%s\n%s\nLire l'article : %s\n\n", a.title, a.summary, a.url)
		fmt.Fprintf(&html, `<h2 style="font-size:18px;margin:24px 0 8px"><a href="%s" style="color:#0b4f8a;text-decoration:none">%s</a></h2><p style="margin:0 0 8px;line-height:1.5">%s</p><p style="margin:0"><a href="%s" style="color:#0b4f8a">Lire l'article</a></p>`, a.url, a.title, a.summary, a.url)
	}
	fmt.Fprintf(&text, "--\nVous recevez cette lettre car vous êtes abonné à L'essentiel du matin du Journal.\nGérer mes préférences : %s\nSe désabonner : %s\n", prefs, unsub)
	fmt.Fprintf(&html, `<hr style="border:none;border-top:1px solid #ddd;margin:32px 0 16px"><p style="font-size:12px;color:#666;line-height:1.5">Vous recevez cette lettre car vous êtes abonné à L'essentiel du matin du Journal.<br><a href="%s" style="color:#666">Gérer mes préférences</a> | <a href="%s" style="color:#666">Se désabonner</a></p>`, prefs, unsub)
	html.WriteString(`</td></tr></table></td></tr></table></body></html>`)
	return mail.Message{
		From:            "Le Journal <newsletter@news.example.com>",
		To:              to,
		Subject:         "Économie : le point du matin",
		Text:            text.String(),
		HTML:            html.String(),
		ListUnsubscribe: unsub,
		ListID:          "Le Journal <digest.news.example.com>",
		FeedbackID:      "daily-20250605:digest:lejournal:crieur",
		Bulk:            true,
		Date:            time.Date(2025, 6, 5, 7, 0, 0, 0, time.FixedZone("CEST", 2*3600)),
	}
}

// mustBytes composes m or fails the test.
func mustBytes(tb testing.TB, m mail.Message) []byte {
	tb.Helper()
	raw, err := m.Bytes()
	if err != nil {
		tb.Fatalf("Bytes: %v", err)
	}
	return raw
}

var testKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// rsaKey returns a 2048-bit key shared by the tests of this package.
func rsaKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	k, err := testKey()
	if err != nil {
		tb.Fatalf("generate key: %v", err)
	}
	return k
}
