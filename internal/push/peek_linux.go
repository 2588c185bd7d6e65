package push

import "syscall"

// socketState is what an idle socket holds.
type socketState int

const (
	socketIdle     socketState = iota // nothing to read: usable
	socketReadable                    // bytes waiting
	socketClosed                      // the peer closed it, or an error
)

// peekSocket looks at an idle socket without reading from it or waiting.
func peekSocket(rc syscall.RawConn) socketState {
	state := socketClosed
	var b [1]byte
	err := rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN:
			state = socketIdle
		case err == nil && n > 0:
			state = socketReadable
		}
		return true // never wait for readiness
	})
	if err != nil {
		return socketClosed
	}
	return state
}
