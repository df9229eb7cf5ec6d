package redistest

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a target until told to cut them, so a test can
// fail the network between golock and Redis while both processes live.
type Proxy struct {
	Port   int
	target string
	ln     net.Listener

	mu        sync.Mutex
	conns     []net.Conn
	blackhole bool
	frozen    map[net.Conn]bool // connections that forward nothing (Freeze)
	upstream  map[net.Conn]bool // connections to the target, whose bytes are replies
	delay     time.Duration     // how long replies are held back (DelayReplies)
}

// NewProxy listens on a free port and forwards every connection to target; it is closed
// at the test's end.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy: %v", err)
	}
	p := &Proxy{Port: ln.Addr().(*net.TCPAddr).Port, target: target, ln: ln}
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Env returns CRONLOCK_HOST and CRONLOCK_PORT pointing at the proxy.
func (p *Proxy) Env() []string {
	return []string{"CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT=" + strconv.Itoa(p.Port)}
}

// Drop closes every connection now open; new ones are still forwarded.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Blackhole keeps every connection, old and new, open but forwards nothing in either
// direction, like a network that silently loses packets.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = true
}

// Freeze stops every connection open now from forwarding anything, while connections made
// from now on work: a client stuck on a dead connection can recover on a new one.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen == nil {
		p.frozen = map[net.Conn]bool{}
	}
	for _, c := range p.conns {
		p.frozen[c] = true
	}
}

// DelayReplies holds back every reply from the target by d from now on, on every
// connection, while requests still reach it at once: a command runs in Redis, and its
// client hears of it d later. Zero ends the delay.
func (p *Proxy) DelayReplies(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Heal ends a blackhole: bytes flow again on connections made from now on.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = false
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Drop()
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		hole := p.blackhole
		p.mu.Unlock()
		if hole {
			go p.swallow(c)
			continue
		}
		go p.forward(c)
	}
}

// swallow reads and discards whatever c sends, answering nothing.
func (p *Proxy) swallow(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

func (p *Proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	if p.upstream == nil {
		p.upstream = map[net.Conn]bool{}
	}
	p.upstream[up] = true
	p.mu.Unlock()
	go p.pipe(up, c)
	p.pipe(c, up)
}

// pipe copies src to dst until either closes, dropping bytes while blackholed.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hole := p.blackhole || p.frozen[src]
			var delay time.Duration
			if p.upstream[src] {
				delay = p.delay
			}
			p.mu.Unlock()
			time.Sleep(delay)
			if !hole {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
