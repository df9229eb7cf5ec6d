package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis returns the options for connecting to Redis; Load has checked them. Timeouts and
// retries are the caller's. With Sentinel or Cluster, Addr is unused: see Addrs.
func (c *Config) Redis() *redis.Options { return c.redis }

// Addrs are the host:port addresses of the sentinels (with UseSentinel) or of the cluster
// seed nodes (with Cluster); nil otherwise.
func (c *Config) Addrs() []string { return c.addrs }

// connection works out and checks the Redis options: address, credentials, database and
// TLS, from CRONLOCK_URL when set. A certificate file that cannot be read is an error.
func (c *Config) connection() error {
	o := &redis.Options{
		Addr:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Username: c.Username,
		Password: c.Auth,
		DB:       c.DB,
	}
	var err error
	switch {
	case c.UseSentinel:
		c.addrs, err = hostList("CRONLOCK_SENTINEL_HOST", c.SentinelHost, c.SentinelPort)
	case c.Cluster:
		c.addrs, err = hostList("CRONLOCK_HOST", c.Host, c.Port)
	}
	if err != nil {
		return err
	}
	useTLS, plain, fix := c.TLS, "CRONLOCK_TLS=no", "set CRONLOCK_TLS=yes (or use a rediss:// URL)"
	if c.URL != "" {
		// Parse errors can quote the URL, password and all: say only what is wrong.
		const want = "want redis://[user:password@]host[:port][/db], rediss://... or unix:///path[?db=N]"
		u, err := url.Parse(c.URL)
		if err != nil {
			return &Problem{"CRONLOCK_URL", "is not a valid URL: " + want}
		}
		if o, err = redis.ParseURL(c.URL); err != nil {
			return &Problem{"CRONLOCK_URL", "is not a usable Redis URL: " + want}
		}
		if o.Network != "unix" {
			if _, port, err := net.SplitHostPort(o.Addr); err != nil || !validPort(port) {
				return &Problem{"CRONLOCK_URL", "has a port outside 1 to 65535: " + want}
			}
		}
		if o.DB < 0 { // go-redis would quietly use database 0
			return &Problem{"CRONLOCK_URL", "has a database number below 0: the database must be 0 or more"}
		}
		// The URL's scheme says whether to use TLS. rediss:// wins over CRONLOCK_TLS=no (the
		// default), but a plain-text scheme never wins over CRONLOCK_TLS=yes.
		useTLS, plain, fix = u.Scheme == "rediss", "CRONLOCK_URL is a "+u.Scheme+":// URL", "use a rediss:// URL"
		if c.TLS && !useTLS {
			return &Problem{"CRONLOCK_TLS", fmt.Sprintf(
				"is yes, but %s, which is plain text: use a rediss:// URL for TLS, or set CRONLOCK_TLS=no", plain)}
		}
	}
	if name := c.tlsSetting(); name != "" && !useTLS {
		// TLS settings given but no TLS: most likely a forgotten CRONLOCK_TLS=yes.
		return &Problem{name, fmt.Sprintf(
			"is set, but %s, so there would be no TLS: %s, or remove %s", plain, fix, name)}
	}
	if useTLS {
		tc, err := c.tlsConfig()
		if err != nil {
			return err
		}
		if tc.ServerName == "" && o.TLSConfig != nil {
			tc.ServerName = o.TLSConfig.ServerName
		}
		o.TLSConfig = tc
	} else {
		o.TLSConfig = nil
	}
	c.redis = o
	return nil
}

// tlsSetting names the first TLS setting given (a file, a server name, or skipping
// verification), or is "" when there is none.
func (c *Config) tlsSetting() string {
	for _, s := range []struct {
		name string
		set  bool
	}{
		{"CRONLOCK_TLS_CA_CERT", c.TLSCACert != ""},
		{"CRONLOCK_TLS_CERT", c.TLSCert != ""},
		{"CRONLOCK_TLS_KEY", c.TLSKey != ""},
		{"CRONLOCK_TLS_SERVER_NAME", c.TLSServerName != ""},
		{"CRONLOCK_TLS_SKIP_VERIFY", c.TLSSkipVerify},
	} {
		if s.set {
			return s.name
		}
	}
	return ""
}

// tlsConfig builds TLS 1.2+ settings: verification on unless skipped, the CA bundle,
// the client certificate for mutual TLS and the server name to expect.
func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: c.TLSSkipVerify,
		ServerName:         c.TLSServerName,
	}
	if c.TLSCACert != "" {
		pem, err := os.ReadFile(c.TLSCACert)
		if err != nil {
			return nil, &Problem{"CRONLOCK_TLS_CA_CERT", "cannot read the CA bundle: " + pathless(err)}
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &Problem{"CRONLOCK_TLS_CA_CERT", "names a file that holds no PEM certificate"}
		}
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return nil, &Problem{"CRONLOCK_TLS_KEY", "must be set when CRONLOCK_TLS_CERT is"}
	case c.TLSKey != "" && c.TLSCert == "":
		return nil, &Problem{"CRONLOCK_TLS_CERT", "must be set when CRONLOCK_TLS_KEY is"}
	case c.TLSCert != "":
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, &Problem{"CRONLOCK_TLS_CERT", "cannot load the client certificate and key (CRONLOCK_TLS_KEY): " + pathless(err)}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// hostList reads a comma-separated list of host[:port] ("[v6]:port" for IPv6 with a port),
// giving each entry without a port the default one.
func hostList(name, list string, port int) ([]string, error) {
	var addrs []string
	for i, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		host, p := entry, strconv.Itoa(port)
		if strings.HasPrefix(entry, "[") || net.ParseIP(entry) == nil && strings.Contains(entry, ":") {
			var err error
			if host, p, err = net.SplitHostPort(entry); err != nil {
				return nil, &Problem{name, fmt.Sprintf("must be a comma-separated list of host[:port]; entry %d is not", i+1) + got(name, entry)}
			}
		}
		if !validPort(p) || host == "" || strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return nil, &Problem{name, fmt.Sprintf("must be a comma-separated list of host[:port] with ports 1 to 65535; entry %d is not", i+1) + got(name, entry)}
		}
		addrs = append(addrs, net.JoinHostPort(host, p))
	}
	return addrs, nil
}

// pathless is err's message without the file name that os errors carry: the variable the
// message names says which file, and its value is not shown (see got).
func pathless(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
