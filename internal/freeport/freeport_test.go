package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestBelowEphemeralRange: the ports handed out lie below the kernel's ephemeral range,
// where no outgoing connection can take them, and a server can listen on them.
func TestBelowEphemeralRange(t *testing.T) {
	start := EphemeralStart()
	for range 20 {
		port, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if port < First || port >= start {
			t.Fatalf("Port gave %d, want a port in [%d, %d)", port, First, start)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("Port gave %d, which cannot be bound: %v", port, err)
		}
		l.Close()
	}
}

// TestPairBelowEphemeralRange: a cluster node's port and its bus port 10000 above both lie
// below the ephemeral range.
func TestPairBelowEphemeralRange(t *testing.T) {
	start := EphemeralStart()
	for range 20 {
		port, err := Pair(10000)
		if err != nil {
			t.Fatal(err)
		}
		if port < First || port+10000 >= start {
			t.Fatalf("Pair(10000) gave %d, want it and %d below %d", port, port+10000, start)
		}
	}
}

// TestOutgoingConnectionsTakeNone: the local ports of outgoing connections, which the
// kernel takes from the ephemeral range, never fall where Port hands ports out.
func TestOutgoingConnectionsTakeNone(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	start := EphemeralStart()
	for range 50 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		local := c.LocalAddr().(*net.TCPAddr).Port
		c.Close()
		if local < start {
			t.Fatalf("an outgoing connection took local port %d, below the ephemeral range's start %d", local, start)
		}
	}
}
