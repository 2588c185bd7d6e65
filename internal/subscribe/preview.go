package subscribe

// PreviewPath is the page a digest preview's links lead to: it says the
// email was a preview. A preview is read by editors, forwarded, and its
// List-Unsubscribe pressed by their mail client: its links must name no
// reader and be able to change nothing.
const PreviewPath = "/digest-preview"

// PreviewLinks returns the links a digest preview carries in place of a
// reader's signed ones: inert, and the same for every reader.
func (s *Service) PreviewLinks() Links {
	u := s.base + PreviewPath
	return Links{Preferences: u, Unsubscribe: u}
}
