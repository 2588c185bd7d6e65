package mailtest

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
)

// Header returns the first value of the named header field with RFC 2047
// encoded words decoded, or "" when absent or unparseable.
func (m Msg) Header(name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return ""
	}
	v := msg.Header.Get(name)
	dec := new(mime.WordDecoder)
	if d, err := dec.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// Text returns the decoded text/plain part with CRLF turned into LF ("" when
// there is none).
func (m Msg) Text() string {
	s, _ := Part(m.Raw, "text/plain")
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// HTML returns the decoded text/html part with CRLF turned into LF ("" when
// there is none).
func (m Msg) HTML() string {
	s, _ := Part(m.Raw, "text/html")
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// Part returns the decoded body of the first part of raw with the given
// media type, searching nested multiparts; the transfer encoding
// (quoted-printable, base64) is undone.
func Part(raw []byte, mediaType string) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("parse message: %w", err)
	}
	return findPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, mediaType)
}

func findPart(ctype, cte string, body io.Reader, want string) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		// multipart.Reader undoes quoted-printable itself.
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return "", fmt.Errorf("no %s part", want)
			}
			if err != nil {
				return "", fmt.Errorf("read part: %w", err)
			}
			s, err := findPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, want)
			if err == nil {
				return s, nil
			}
		}
	}
	if mt != want {
		return "", fmt.Errorf("no %s part", want)
	}
	r := body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = newQP(body)
	case "base64":
		r = newB64(body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", want, err)
	}
	return string(b), nil
}
