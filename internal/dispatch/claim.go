package dispatch

import (
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Claimed is the contract between the queue and the senders: a message a
// worker holds under a claim, as the store hands it out. ClaimKey names
// the claim, whose lease the pipeline renews while the message is in
// flight; Outcome ties what became of the message to that claim, so that
// the store records it, or ignores it as stale when the claim was taken
// back from this worker (thought dead) and given to another.
//
// The senders only say what happened (a store.Result without its key);
// the pipeline ties it to the claim. store.Delivery and store.PushTarget
// implement Claimed; the key type is news.ClaimKey because store must not
// import dispatch.
type Claimed interface {
	ClaimKey() news.ClaimKey
	Outcome(r store.Result) store.Result
}

var (
	_ Claimed = store.Delivery{}
	_ Claimed = store.PushTarget{}
)
