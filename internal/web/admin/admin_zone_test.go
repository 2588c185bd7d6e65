package admin_test

import (
	"context"
	"strings"
	"testing"
)

// TestAdminReaderZone: the desk's import reads the timezone column and a
// reader's page shows their zone, or that they follow the publication's.
func TestAdminReaderZone(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	b := e.browser(t, "fr")
	page := b.login("admin@journal.example")
	resp, rep := b.importCSV(page, "email,topics,frequency,lang,status,timezone\nkol@example.org,afrique,daily,fr,confirmed,Asia/Kolkata\n"+
		"def@example.org,afrique,daily,fr,confirmed,\nmars@example.org,afrique,daily,fr,confirmed,Mars/Olympus\n")
	if resp.StatusCode != 200 || !strings.Contains(rep, "Fuseau horaire inconnu") {
		t.Fatalf("import: %d\n%.3000s", resp.StatusCode, rep)
	}
	for email, want := range map[string]string{"kol@example.org": "<dd>Asia/Kolkata</dd>", "def@example.org": "<dd>celui de la publication (CRIEUR_TIMEZONE)</dd>"} {
		sub, err := e.st.SubscriberByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		if _, body := b.get("/admin/readers/" + itoa(sub.ID)); !strings.Contains(body, want) {
			t.Errorf("%s: the reader page lacks %q", email, want)
		}
	}
}
