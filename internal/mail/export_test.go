package mail

// ClassifyAt is classify for the table tests: a reply seen at one stage of
// the SMTP transaction.
var ClassifyAt = classify

// AppendDotData exposes appendDotData to the external tests.
var AppendDotData = appendDotData
