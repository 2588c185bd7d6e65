package mail

// AppendDotData exposes appendDotData to the external tests.
var AppendDotData = appendDotData
