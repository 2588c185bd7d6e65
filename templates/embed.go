// Package templates embeds the email and page templates, the translated
// strings and the static assets served by crieur, so the binary carries
// everything it needs.
package templates

import "embed"

// FS holds email/, pages/, i18n/ and static/.
//
//go:embed all:email all:pages all:i18n all:static
var FS embed.FS
