// Package ping tells a ping monitor (healthchecks.io, or any server that speaks its
// protocol) how a job went: URL/start before it runs, URL when it exited 0, URL/<code>
// otherwise, each with the run's id as ?rid=, so that the monitor pairs a start with its
// end. Each ping is one request bounded by a timeout, and what comes of it is an error
// to log, never a reason to stop or delay a job longer than that bound.
//
// It speaks just enough HTTP/1.1 itself, over net and crypto/tls (which golock links for
// Redis already): one POST with an empty body, Connection: close, the status line read
// and nothing more. net/http would do the same, but its initialisation would run on every
// golock run, pings or not. What this leaves out: proxies (HTTP_PROXY is not read),
// redirects (a 3xx is a failed ping) and HTTP/2.
package ping

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Pinger pings one check for one run.
type Pinger struct {
	base    *url.URL
	rid     string
	timeout time.Duration
	agent   string
}

// New makes the Pinger of one run: rawURL is the check's ping URL (http:// or https://,
// as the settings check it), rid the run's id, timeout the bound on each ping, agent the
// User-Agent. Its error never holds the URL, whose path is the check's secret.
func New(rawURL, rid string, timeout time.Duration, agent string) (*Pinger, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("must be an http:// or https:// URL with a host")
	}
	return &Pinger{base: u, rid: rid, timeout: timeout, agent: agent}, nil
}

// Start pings URL/start: the job is starting.
func (p *Pinger) Start(ctx context.Context) error { return p.send(ctx, "start") }

// Exit pings URL when code is 0, else URL/<code>: the job ended so.
func (p *Pinger) Exit(ctx context.Context, code int) error {
	if code == 0 {
		return p.send(ctx, "")
	}
	return p.send(ctx, strconv.Itoa(code))
}

// URL is the URL a ping with suffix ("start", "3" or "") is sent to.
func (p *Pinger) URL(suffix string) *url.URL {
	u := *p.base
	if suffix != "" {
		u = *u.JoinPath(suffix)
	}
	q := u.Query()
	q.Set("rid", p.rid)
	u.RawQuery = q.Encode()
	return &u
}

// maxStatusLine is the most of an answer a ping reads: its status line.
const maxStatusLine = 1024

// send makes one POST to URL(suffix) and reads the status line: a 2xx is success.
func (p *Pinger) send(ctx context.Context, suffix string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	u := p.URL(suffix)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return err
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.Close() })() // a cancel ends a read at once
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if u.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	var req strings.Builder
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nContent-Length: 0\r\nConnection: close\r\n",
		u.RequestURI(), u.Host, p.agent)
	if u.User != nil {
		pw, _ := u.User.Password()
		fmt.Fprintf(&req, "Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw)))
	}
	req.WriteString("\r\n")
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return err
	}
	// The status line only, and no more than maxStatusLine of it: a server that streams
	// bytes without a line break must not grow golock.
	line, err := bufio.NewReader(io.LimitReader(conn, maxStatusLine)).ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("no answer: %w", err)
	}
	proto, status, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	code, _, _ := strings.Cut(status, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 {
		return fmt.Errorf("not an HTTP answer: %.40q", line)
	}
	if code[0] != '2' {
		return fmt.Errorf("answered %s", status)
	}
	return nil
}
