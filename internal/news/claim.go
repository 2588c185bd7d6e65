package news

// ClaimKind says what a worker's claim holds. The store hands out claims
// and the dispatch pipelines give them back; the kind tells the store
// which table a claim's lease and outcome belong to.
type ClaimKind uint8

// The kinds of claim.
const (
	// ClaimEmail is one queued email (a deliveries row).
	ClaimEmail ClaimKind = iota + 1
	// ClaimPush is one queued push message (a push_deliveries row: a retry).
	ClaimPush
	// ClaimPushWindow is a window of an alert's browsers (a push_windows
	// row): its messages share one lease and one claim number, and are
	// told apart by their subscription.
	ClaimPushWindow
)

// String names k in logs and test failures.
func (k ClaimKind) String() string {
	switch k {
	case ClaimEmail:
		return "email"
	case ClaimPush:
		return "push"
	case ClaimPushWindow:
		return "push window"
	}
	return "unknown claim"
}

// ClaimKey names one claim of one unit of work: which kind of row, its
// id, and its claim number. A row is claimed anew after its worker is
// thought dead (its lease ran out); the claim number then grows, and an
// outcome recorded under an older number is stale and changes nothing.
//
// It lives here rather than in dispatch, which owns the claim contract
// (dispatch.Claimed), because store implements that contract and must not
// import dispatch (dispatch imports store); a comparable value type is all
// both sides need to share.
type ClaimKey struct {
	Kind ClaimKind
	ID   int64
	// Claim is the claim number (the row's claims column when claimed).
	Claim int
}
