//go:build !linux

package push

import "syscall"

// socketState is what an idle socket holds.
type socketState int

const (
	socketIdle     socketState = iota // nothing to read: usable
	socketReadable                    // bytes waiting
	socketClosed                      // the peer closed it, or an error
)

// peekSocket cannot look without reading here: a connection idle long
// enough to be checked is taken as closed, and a new one dialled.
func peekSocket(syscall.RawConn) socketState { return socketClosed }
