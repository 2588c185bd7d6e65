package mail

import "context"

// Sender delivers already composed (and signed) messages over one
// connection or channel. A Sender is meant for one worker and is not for
// concurrent use; its errors are *SendError.
type Sender interface {
	// Send delivers raw to rcpt with envelopeFrom as the SMTP return path.
	// It must not keep raw once it returns: the caller reuses its storage
	// for the next message.
	Send(ctx context.Context, envelopeFrom, rcpt string, raw []byte) error
	// Close releases the connection.
	Close() error
}

// Transport makes Senders, one per delivery worker.
type Transport interface {
	NewSender(ctx context.Context) (Sender, error)
}

// Both transports satisfy Transport.
var (
	_ Transport = (*SMTP)(nil)
	_ Transport = (*FileTransport)(nil)
)
