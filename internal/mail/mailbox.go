package mail

// NamesMissingMailbox reports whether a server's words (a bare SMTP reply,
// or the diagnostic of a delivery status notification) say the
// recipient's mailbox does not exist or takes no mail, and do not point at
// our sender or at relaying. The bounce parser reads reports that carry no
// precise status code with it, as the SMTP path reads a bare 550.
func NamesMissingMailbox(text string) bool { return namesMailbox(text) && !blamesUs(text) }
