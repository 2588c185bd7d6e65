package mail

// ClassifyAt is classify for the table tests: a reply seen at one stage of
// the SMTP transaction.
var ClassifyAt = classify
