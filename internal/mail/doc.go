// Package mail composes crieur's emails and delivers them.
//
// A [Message] is composed into RFC 5322 bytes by [Message.Bytes], optionally
// signed by [DKIM.Sign], and handed to a [Sender] obtained from a [Transport]:
// [SMTP] (go-mail connections, one per worker, reused for many messages) or
// [FileTransport] (.eml files, for development). Every delivery failure is
// reported as a [*SendError] whose [Kind] tells the caller whether to retry
// later, give up on one recipient, or stop the whole run; [Classify] maps any
// error onto that scheme by type, never by message text.
//
// It must not import news, store or dispatch: it knows messages and mail
// servers, not readers or queues; the dispatcher decides what a failure
// means for a delivery.
package mail
