package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
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
	useTLS := c.TLS
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
		useTLS = u.Scheme == "rediss"
	}
	if tlsFile := c.TLSCACert + c.TLSCert + c.TLSKey + c.TLSServerName; tlsFile != "" && !useTLS {
		// Certificates given but no TLS asked for: most likely a forgotten CRONLOCK_TLS=yes.
		return &Problem{"CRONLOCK_TLS", "is off, but CRONLOCK_TLS_* settings are given: set CRONLOCK_TLS=yes (or use a rediss:// URL), or remove them"}
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
			return nil, &Problem{"CRONLOCK_TLS_CA_CERT", fmt.Sprintf("cannot read the CA bundle: %v", err)}
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &Problem{"CRONLOCK_TLS_CA_CERT", fmt.Sprintf("%s holds no PEM certificate", c.TLSCACert)}
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
			return nil, &Problem{"CRONLOCK_TLS_CERT", fmt.Sprintf("cannot load the client certificate and key: %v", err)}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// hostList reads a comma-separated list of host[:port] ("[v6]:port" for IPv6 with a port),
// giving each entry without a port the default one.
func hostList(name, list string, port int) ([]string, error) {
	var addrs []string
	for _, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		host, p := entry, strconv.Itoa(port)
		if strings.HasPrefix(entry, "[") || net.ParseIP(entry) == nil && strings.Contains(entry, ":") {
			var err error
			if host, p, err = net.SplitHostPort(entry); err != nil {
				return nil, &Problem{name, fmt.Sprintf("must be a comma-separated list of host[:port], got %q", entry)}
			}
		}
		if !validPort(p) || host == "" || strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return nil, &Problem{name, fmt.Sprintf("must be a comma-separated list of host[:port] with ports 1 to 65535, got %q", entry)}
		}
		addrs = append(addrs, net.JoinHostPort(host, p))
	}
	return addrs, nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
