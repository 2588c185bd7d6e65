package compose

// DigestUncached renders d through the templates alone, as Digest did
// before digest skeletons: the reference TestDigestSkeletonMatchesTemplates
// compares skeletons with.
func (c *Composer) DigestUncached(d DigestData) (Email, error) {
	prefs, err := requiredURL("preferences", d.PreferencesURL)
	if err != nil {
		return Email{}, err
	}
	unsub, err := requiredURL("unsubscribe", d.UnsubscribeURL)
	if err != nil {
		return Email{}, err
	}
	return c.renderDigest(d, prefs, unsub)
}
