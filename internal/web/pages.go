package web

import (
	"net/http"

	"github.com/crieur/crieur/internal/news"
)

// pageRoutes registers the reader pages.
func (s *Server) pageRoutes() {}

// messageData is a page holding one titled message.
type messageData struct {
	Lang    news.Lang
	Title   string
	Message string
}

func (s *Server) page(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if m, ok := data.(messageData); ok {
		w.Write([]byte("<!doctype html><title>" + m.Title + "</title><p>" + m.Message))
	}
}

func (s *Server) messagePage(r *http.Request, titleKey, msgKey string) messageData {
	return s.messagePageLang(news.French, titleKey, msgKey)
}

func (s *Server) messagePageLang(l news.Lang, titleKey, msgKey string) messageData {
	return messageData{Lang: l, Title: s.d.Composer.T(l, titleKey), Message: s.d.Composer.T(l, msgKey)}
}

func messageFor(err error) string {
	if e, ok := news.AsError(err); ok {
		return e.Message
	}
	return "Something went wrong."
}
