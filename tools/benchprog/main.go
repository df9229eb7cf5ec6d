// Command benchprog is the part of tools/bench that needs precision: it launches herds,
// counts the Redis commands of a run, samples peak memory, times commands when hyperfine
// is missing, and turns the measurements into the tables tools/bench prints (with the
// Redis-side Go benchmarks, when tools/bench ran them).
//
//	benchprog herd N CODE COMMAND [ARG...]        start N at once, wait for all, check each exit code
//	benchprog time -out FILE [-runs N] [-warmup N] [-ignore-failure] NAME COMMAND [NAME COMMAND...]
//	benchprog monitor -addr HOST:PORT [-runs N] [-code C] COMMAND [ARG...]
//	benchprog rss -job 'sleep 2' COMMAND [ARG...]
//	benchprog build BINARY
//	benchprog report [-reproduce CMD] DIR
//
// time writes hyperfine's JSON (--export-json) for the same commands, so that report reads
// either. monitor, rss and build print JSON or a line on stdout.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmds := map[string]func([]string) error{
		"herd": herd, "time": timeLoop, "monitor": monitor, "rss": rss, "build": build, "report": report,
	}
	f, ok := cmds[os.Args[1]]
	if !ok {
		usage()
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benchprog %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchprog herd|time|monitor|rss|build|report ... (see its package doc)")
	os.Exit(2)
}
