package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// proxy forwards golock's TCP connections to Redis, and fails them on demand: blackhole
// (nothing flows, old connections or new, until healed), reset (every open connection
// closed) and delay (every reply held back).
type proxy struct {
	port   int
	target string
	ln     net.Listener

	mu        sync.Mutex
	conns     map[net.Conn]bool
	blackhole bool
	delay     time.Duration
}

func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{port: ln.Addr().(*net.TCPAddr).Port, target: target, ln: ln, conns: map[net.Conn]bool{}}
	go p.serve()
	return p, nil
}

func (p *proxy) setBlackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = on
}

func (p *proxy) setDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// reset closes every connection open now; new ones are forwarded.
func (p *proxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) close() {
	p.ln.Close()
	p.reset()
}

func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = true
	p.mu.Unlock()
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	p.mu.Lock()
	hole := p.blackhole
	p.mu.Unlock()
	if hole { // a connection made into a blackhole never reaches Redis
		_, _ = io.Copy(io.Discard, c)
		p.untrack(c)
		return
	}
	up, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		p.untrack(c)
		return
	}
	p.track(up)
	go p.pipe(c, up, true)
	p.pipe(up, c, false)
}

// pipe copies src to dst until either closes, dropping bytes while blackholed and holding
// back replies (bytes from Redis) by the delay.
func (p *proxy) pipe(dst, src net.Conn, replies bool) {
	defer p.untrack(dst)
	defer p.untrack(src)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hole, delay := p.blackhole, p.delay
			p.mu.Unlock()
			if replies && delay > 0 {
				time.Sleep(delay)
			}
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

// untrack closes c and forgets it.
func (p *proxy) untrack(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}
