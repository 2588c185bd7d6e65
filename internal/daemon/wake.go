package daemon

// closeFinished is what a delivery pipeline calls when it has recorded
// everything it claimed and found nothing more due: the digest runner and
// the alert service look for runs and alerts to close now. Without it a
// finished run waited for their next one-second tick to be marked done.
// It must not block: Kick and Wake only signal.
func (d *Daemon) closeFinished() {
	if d.Digests != nil {
		d.Digests.Kick()
	}
	if d.Alerts != nil {
		d.Alerts.Wake()
	}
}
