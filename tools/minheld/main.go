// Command minheld asks Redis once for a lock and exits 200 when it is held: one TCP
// connection, one SET NX PX, one reply, nothing else (no config, no script, no TLS, no
// client library). It is the floor that tools/bench measures golock's held run against:
// what any Go program pays to start, make one round trip to Redis, and exit.
//
//	minheld HOST:PORT KEY
//
// Exit 0 when it took KEY (for a second), 200 when KEY was there, 1 on any error.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: minheld HOST:PORT KEY")
		os.Exit(2)
	}
	conn, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "minheld:", err)
		os.Exit(1)
	}
	key := os.Args[2]
	fmt.Fprintf(conn, "*6\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$7\r\nminheld\r\n$2\r\nNX\r\n$2\r\nPX\r\n$4\r\n1000\r\n", len(key), key)
	reply, err := bufio.NewReader(conn).ReadString('\n')
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "minheld:", err)
		os.Exit(1)
	case reply == "+OK\r\n":
		os.Exit(0)
	case reply == "$-1\r\n" || reply == "_\r\n":
		os.Exit(200)
	default:
		fmt.Fprintf(os.Stderr, "minheld: Redis answered %q\n", reply)
		os.Exit(1)
	}
}
