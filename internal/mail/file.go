package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// FileTransport writes each message as DIR/<unix-nano>-<random>.eml instead
// of sending it: crieur's default when no SMTP server is configured. Files
// appear atomically (written under a temporary name, then renamed), so a
// reader of the directory never sees half a message. It is safe for
// concurrent use.
type FileTransport struct {
	dir string
}

// NewFileTransport returns a transport writing into dir, which is created
// (mode 0750) on first use.
func NewFileTransport(dir string) *FileTransport {
	return &FileTransport{dir: dir}
}

// Dir returns the directory the messages are written to.
func (t *FileTransport) Dir() string { return t.dir }

// NewSender creates the directory if needed and returns a Sender writing
// into it.
func (t *FileTransport) NewSender(ctx context.Context) (Sender, error) {
	if err := os.MkdirAll(t.dir, 0o750); err != nil {
		return nil, &SendError{Kind: Server, Stage: "connect", Err: fmt.Errorf("create outbox: %w", err)}
	}
	return fileSender{t}, nil
}

// Send writes one message; envelopeFrom and rcpt are not recorded beyond the
// message's own headers.
func (t *FileTransport) Send(ctx context.Context, envelopeFrom, rcpt string, raw []byte) error {
	if err := ctx.Err(); err != nil {
		return &SendError{Kind: Temporary, Err: err}
	}
	if _, err := ValidateAddress(rcpt); err != nil {
		return classify("rcpt", err)
	}
	if err := os.MkdirAll(t.dir, 0o750); err != nil {
		return &SendError{Kind: Server, Stage: "write", Err: fmt.Errorf("create outbox: %w", err)}
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return &SendError{Kind: Temporary, Stage: "write", Err: err}
	}
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + "-" + hex.EncodeToString(rnd[:]) + ".eml"
	if err := writeFileAtomic(filepath.Join(t.dir, name), raw); err != nil {
		return &SendError{Kind: Server, Stage: "write", Err: err}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o640); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}

// fileSender adapts FileTransport to Sender.
type fileSender struct{ t *FileTransport }

func (s fileSender) Send(ctx context.Context, envelopeFrom, rcpt string, raw []byte) error {
	return s.t.Send(ctx, envelopeFrom, rcpt, raw)
}

func (fileSender) Close() error { return nil }
