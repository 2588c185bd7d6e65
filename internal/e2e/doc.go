// Package e2e holds crieur's end-to-end tests and no code of its own: they
// run the daemon as it ships and check what reaches the sinks (mailtest,
// pushtest) and what its HTTP surfaces answer.
//
// Being tests, they may import any package; no package imports e2e.
package e2e
