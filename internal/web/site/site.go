// Package site puts crieur's HTTP face together: the server of package web
// with the routes of each audience's room (reader pages, the editors' API,
// the desk). It is the one place that knows every room; the wiring calls
// New and nothing else.
//
// It holds no handlers: a route belongs to the room whose way of proving
// who the user is it uses.
package site

import (
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/admin"
	"github.com/crieur/crieur/internal/web/api"
	"github.com/crieur/crieur/internal/web/bouncehook"
	"github.com/crieur/crieur/internal/web/reader"
)

// New builds the HTTP handler with every room's routes.
func New(d web.Deps) (*web.Server, error) {
	srv, err := web.New(d)
	if err != nil {
		return nil, err
	}
	reader.Register(srv)
	api.Register(srv)
	bouncehook.Register(srv)
	admin.Register(srv)
	return srv, nil
}
