// Package migrations embeds the numbered schema migrations, one tree per SQL
// dialect. Both trees hold the same version numbers (a test checks it): a
// version is the same change expressed in each dialect.
package migrations

import "embed"

// SQLite holds sqlite/NNNN_name.sql.
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// Postgres holds postgres/NNNN_name.sql.
//
//go:embed postgres/*.sql
var Postgres embed.FS
