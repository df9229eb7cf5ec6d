// Command golock-exporter serves the state of golock's locks to Prometheus: on each
// scrape it reads every lock under CRONLOCK_PREFIX from Redis (SCAN, never KEYS, on every
// master of a cluster), each through lockscript's inspection as golock --status reads it,
// and the settings of each master that decide whether a lock survives (eviction,
// persistence). It changes nothing in Redis.
//
// Usage:
//
//	golock-exporter [--listen ADDR] [--timeout SECONDS]
//	golock-exporter --help | --man | --version
//
// It is configured by the same CRONLOCK_* variables and config files as golock, and
// connects to Redis exactly as golock does (Sentinel, Cluster, TLS, auth). It serves
// /metrics on --listen (default 127.0.0.1:9680). A scrape takes at most --timeout
// (default 10 s, and less when Prometheus's scrape timeout is shorter); a Redis that
// cannot be read is golock_up 0, golock_exporter_scrape_errors_total and a log line, never
// a crash. It is a command of its own so that golock, which runs for every cron job,
// carries none of it.
//
// Its man page, golock-exporter(1), is golock-exporter.md, rendered by go generate into
// golock-exporter.1, which --man prints.
//
// Exit codes: 0 when stopped by SIGINT or SIGTERM; 201 on a bad setting or option, or when
// it cannot listen.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/exporter"
	"github.com/golock/golock/internal/logging"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/internal/version"
)

const usage = `usage: golock-exporter [--listen ADDR] [--timeout SECONDS]
       golock-exporter --help | --man | --version

Serves the state of golock's locks to Prometheus at http://ADDR/metrics (default
127.0.0.1:9680), read from Redis on each scrape with golock's CRONLOCK_* settings.
--timeout bounds each scrape (default 10 seconds).
`

const exitFailed = 201 // as golock's: a bad setting, or it cannot listen

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// options are the exporter's command-line options.
type options struct {
	listen  string        // --listen
	timeout time.Duration // --timeout: the bound on one scrape
	mode    string        // "", "help", "man" or "version"
}

func parseArgs(args []string) (options, error) {
	o := options{listen: "127.0.0.1:9680", timeout: 10 * time.Second}
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func(name string) (string, error) {
			if v, ok := cutOption(a, name); ok {
				return v, nil
			}
			if i+1 == len(args) {
				return "", fmt.Errorf("%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		switch {
		case a == "-h" || a == "--help":
			return options{mode: "help"}, nil
		case a == "--version" || a == "--man":
			return options{mode: a[2:]}, nil
		case a == "--listen" || hasValue(a, "--listen"):
			v, err := value("--listen")
			if err != nil {
				return options{}, err
			}
			if _, _, err := net.SplitHostPort(v); err != nil {
				return options{}, fmt.Errorf("--listen needs HOST:PORT (e.g. 127.0.0.1:9680 or :9680)")
			}
			o.listen = v
		case a == "--timeout" || hasValue(a, "--timeout"):
			v, err := value("--timeout")
			if err != nil {
				return options{}, err
			}
			d, err := config.ParseSeconds(v)
			if err != nil || d <= 0 {
				return options{}, errors.New("--timeout needs a number of seconds, more than 0")
			}
			o.timeout = d
		default:
			return options{}, fmt.Errorf("unknown option %s", a)
		}
	}
	return o, nil
}

func hasValue(a, name string) bool { _, ok := cutOption(a, name); return ok }

func cutOption(a, name string) (string, bool) {
	if len(a) > len(name) && a[:len(name)+1] == name+"=" {
		return a[len(name)+1:], true
	}
	return "", false
}

// run is the whole command, so that tests can run it in-process; it returns when ctx is
// done (exit 0) or it cannot start (201).
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, "golock-exporter: "+err.Error())
		fmt.Fprint(stderr, usage)
		return exitFailed
	}
	switch opts.mode {
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "man":
		fmt.Fprint(stdout, roff(version.String()))
		return 0
	case "version":
		fmt.Fprintln(stdout, "golock-exporter "+version.String())
		return 0
	}
	cfg, warnings, err := config.Load(environ, os.Args[0])
	format, verbose := "text", false
	if cfg != nil {
		format, verbose = cfg.LogFormat, cfg.Verbose
	}
	log := logging.New(stderr, format, verbose).With("cmd", "golock-exporter")
	for _, w := range warnings {
		log.Warn(w)
	}
	if err != nil {
		log.Error(err.Error())
		return exitFailed
	}
	client := redisclient.Connect(cfg)

	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		log.Error("cannot listen on " + opts.listen + ": " + err.Error())
		return exitFailed
	}
	e := exporter.New(cfg, client, log, opts.timeout)
	e.Reload(func() (*config.Config, error) {
		cfg, _, err := config.Load(environ, os.Args[0])
		return cfg, err
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", e)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "golock-exporter: the state of golock's locks is at /metrics")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("serving /metrics", "listen", ln.Addr().String(), "redis", redisclient.Address(cfg), "prefix", cfg.Prefix)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		log.Error("stopped serving: " + err.Error())
		return exitFailed
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return 0
}
