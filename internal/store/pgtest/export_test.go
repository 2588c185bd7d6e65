package pgtest

// Postmaster exposes the pid of the throwaway server to the tests.
var Postmaster = postmaster

// Dir returns the directory of the throwaway server, "" when none.
func Dir() string {
	mu.Lock()
	defer mu.Unlock()
	if local == nil {
		return ""
	}
	return local.Dir()
}
