// Package freeport finds TCP ports on 127.0.0.1 for the servers that tests and the soak
// start. The ports lie below the kernel's ephemeral range (32768-60999 by default), from
// which every outgoing connection takes its local port: so no connection can take one
// between the finding and the bind, or while a server restarted on it is down.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// First is the lowest port handed out, above the ports services commonly listen on.
const First = 10000

// Port returns a port that was free a moment ago.
func Port() (int, error) { return Pair(0) }

// Pair returns a port that was free a moment ago, as was the port offset above it (a
// Redis Cluster node's bus port), which lies below the ephemeral range too. When this
// machine's range leaves no room below it, the kernel chooses the port.
func Pair(offset int) (int, error) {
	end := EphemeralStart() - offset
	for range 200 {
		var port int
		if end > First {
			port = First + rand.IntN(end-First)
		} else {
			var err error
			if port, err = kernelPort(); err != nil {
				return 0, err
			}
		}
		if port+offset > 65535 || !bindable(port) || (offset != 0 && !bindable(port+offset)) {
			continue
		}
		return port, nil
	}
	return 0, errors.New("freeport: no free port on 127.0.0.1 in 200 tries")
}

// EphemeralStart is the first port of the kernel's ephemeral range.
func EphemeralStart() int {
	const start = 32768 // Linux's default
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return start
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return start
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return start
	}
	return n
}

// kernelPort returns a port the kernel chose as free.
func kernelPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// bindable reports whether a listener can be bound on 127.0.0.1:port now.
func bindable(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
