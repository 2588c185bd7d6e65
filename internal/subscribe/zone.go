package subscribe

import (
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// maxZoneLen is longer than any IANA name (the longest,
// America/Argentina/ComodRivadavia, has 32 characters).
const maxZoneLen = 64

// Zone checks a reader's time zone, as a browser's
// Intl.DateTimeFormat().resolvedOptions().timeZone gives it: an IANA name
// this build's time zone database knows (America/Montreal, Asia/Kolkata,
// UTC). "" (none given) stays "": the reader follows CRIEUR_TIMEZONE.
// Anything else is refused with an invalid_input error naming the field.
func Zone(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil
	}
	bad := news.FieldError(news.CodeInvalid, "timezone", "unknown time zone %q: use an IANA name such as Europe/Paris or America/Montreal", truncate(name, maxZoneLen))
	if len(name) > maxZoneLen || name == "Local" {
		return "", bad
	}
	// IANA names are letters, digits and / _ - +; nothing else reaches
	// the loader, which would read a file of the zoneinfo directory.
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '_' || r == '-' || r == '+'
		if !ok {
			return "", bad
		}
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return "", bad
	}
	if _, err := time.LoadLocation(name); err != nil {
		return "", bad
	}
	return name, nil
}
