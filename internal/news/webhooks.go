package news

// EventType names an outgoing webhook event (contract: "Webhooks").
type EventType string

// The events an endpoint may ask for.
const (
	EventSubscriberConfirmed    EventType = "subscriber.confirmed"
	EventSubscriberUnsubscribed EventType = "subscriber.unsubscribed"
	EventSubscriberBounced      EventType = "subscriber.bounced"
	EventSubscriberComplained   EventType = "subscriber.complained"
	EventSubscriberErased       EventType = "subscriber.erased"
	EventAlertSent              EventType = "alert.sent"
	EventAlertDone              EventType = "alert.done"
	EventDigestDone             EventType = "digest.done"
	// EventTest is what the desk's "send a test event" button sends to
	// one endpoint; no endpoint subscribes to it.
	EventTest EventType = "webhook.test"
)

// EventTypes lists the events an endpoint may subscribe to, in the
// contract's order.
func EventTypes() []EventType {
	return []EventType{EventSubscriberConfirmed, EventSubscriberUnsubscribed, EventSubscriberBounced,
		EventSubscriberComplained, EventSubscriberErased, EventAlertSent, EventAlertDone, EventDigestDone}
}

// Valid reports whether t is an event an endpoint may subscribe to.
func (t EventType) Valid() bool {
	for _, e := range EventTypes() {
		if t == e {
			return true
		}
	}
	return false
}
