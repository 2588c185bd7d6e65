package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime returns this process's user+system CPU time so far (getrusage).
// Child processes (the sinks) are not included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns VmHWM of pid ("self" for this process) in bytes.
func peakRSS(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS returns the heap the previous phase (seeding) left to the
// OS and resets VmHWM (Linux: "5" in clear_refs), so that the next reading
// is the peak of the measured phase alone. It reports whether the reset
// worked.
func resetPeakRSS() bool {
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// resetPeakRSSOf resets VmHWM of another process (pid), as resetPeakRSS
// does for this one; it reports whether the reset worked (the process
// must be ours).
func resetPeakRSSOf(pid int) bool {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0) == nil
}

// child is a helper process: the bench binary re-executed with -sink or
// -push-stub, so that its CPU time and memory are not crieur's.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	Addr  string // the service's address (SMTP or HTTP)
	Ctrl  string // the control HTTP address
}

// startChild re-executes this binary with flag (and its args) and waits
// for its "addr=… ctrl=…" line. The child exits when its stdin closes.
func startChild(flag string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{flag}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", flag, err)
	}
	c := &child{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("%s: no address line: %w", flag, err)
	}
	for f := range strings.FieldsSeq(line) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "addr":
			c.Addr = v
		case "ctrl":
			c.Ctrl = v
		}
	}
	if c.Addr == "" || c.Ctrl == "" {
		c.Stop()
		return nil, fmt.Errorf("%s: bad address line %q", flag, line)
	}
	return c, nil
}

// Pid is the child's process id.
func (c *child) Pid() string { return strconv.Itoa(c.cmd.Process.Pid) }

// Stop closes the child's stdin (it exits) and waits for it.
func (c *child) Stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// sinkStats is what a sink child reports on GET /stats.
type sinkStats struct {
	Count   int64 `json:"count"`
	FirstNS int64 `json:"first_ns"` // arrival of the first message since the last reset, Unix ns
	LastNS  int64 `json:"last_ns"`
	Bytes   int64 `json:"bytes"`  // message (SMTP DATA) or request body bytes
	CPUNS   int64 `json:"cpu_ns"` // the child's own CPU time

	// The TLS push stub's (-push-stub-tls): connections opened since the
	// reset, most requests in flight at once, most on one connection.
	Conns        int64 `json:"conns,omitempty"`
	UsedConns    int64 `json:"used_conns,omitempty"` // of which carried a request
	PeakInFlight int64 `json:"peak_in_flight,omitempty"`
	PeakStreams  int64 `json:"peak_streams,omitempty"`
}

// avg is the mean message size received, in bytes.
func (s sinkStats) avg() float64 { return float64(s.Bytes) / float64(max(s.Count, 1)) }

// Sample returns a message of about the mean size the sink received.
func (c *child) Sample() ([]byte, error) {
	resp, err := http.Get("http://" + c.Ctrl + "/sample")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Stats asks the child for its counters.
func (c *child) Stats() (sinkStats, error) {
	var st sinkStats
	resp, err := http.Get("http://" + c.Ctrl + "/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// Reset zeroes the child's counters.
func (c *child) Reset() error {
	resp, err := http.Post("http://"+c.Ctrl+"/reset", "text/plain", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("reset: " + resp.Status)
	}
	return nil
}
