// Package redisbench measures what golock costs Redis: its Go benchmarks start their own
// redis-server processes (internal/redistest), drive them as golock processes would, and
// report what Redis spent. Reproduce every figure, five rounds of each:
//
//	go test -run '^$' -bench . -count 5 ./internal/redisbench
//
// and the test of a full Redis (maxclients reached) with go test ./internal/redisbench.
//
// A run is what one golock process does to Redis: a new connection made by golock's own
// constructor (redisclient.Connect, with the settings golock reads), the acquire, the
// release, the connection closed. Eight goroutines drive such runs, each on lock names of
// its own, for as many runs as the benchmark's b.N. Every benchmark reports per run:
//
//   - runs/s: runs completed per second of wall time, on this machine, with the driver
//     sharing its CPUs with Redis;
//   - server-µs/run: Redis's CPU time (used_cpu_sys + used_cpu_user of INFO cpu) over the
//     runs, divided by the runs; summed over the nodes of a cluster. It includes the
//     connection's accept and close, and a little of Redis's own housekeeping (serverCron);
//   - script-µs/run: the time Redis reports for EVALSHA and EVAL (INFO commandstats), the
//     Lua scripts' own share of server-µs/run;
//   - cmds/run: the commands a client sent (INFO commandstats, CONFIG RESETSTAT first);
//     inner-cmds/run: those the scripts ran inside Redis (redis.call), counted apart;
//   - conns/run: connections Redis accepted (total_connections_received);
//   - capacity-runs/s: the runs per second at which the busiest Redis node's one core would
//     be full (runs over that node's CPU time): what Redis itself can serve, whatever the
//     driver's machine can drive; with a cluster, how it grows with masters;
//   - server-cpu-%: Redis's CPU time over the wall time (100 is one core busy); with
//     several nodes, max-node-cpu-% is the busiest node's;
//   - driver-µs/run and driver-cpu-%: the benchmark process's own CPU time (getrusage),
//     which on a small machine competes with Redis for the same cores.
//
// The benchmarks:
//
//   - BenchmarkStandalone: one Redis. golock-free is a run on a free lock (CRONLOCK_GRACE=0,
//     so the release deletes it); golock-held is a run that finds the lock held by another
//     owner (acquire only); golock-free-kept is golock-free over one connection kept for
//     all of a goroutine's runs, to show what the connection costs; bare-raw is the least a
//     lock can cost, SET key val NX PX 60000 then DEL key over a new connection with
//     nothing else on the wire; bare-goredis is the same pair from a go-redis client with
//     its defaults (which opens each connection with HELLO and CLIENT SETINFO);
//     bare-kept is the pair over a kept connection.
//   - BenchmarkCluster: golock-free on a Redis Cluster of 1 and of 3 masters, a new
//     cluster client per run as golock makes it (its first command fetches CLUSTER SLOTS);
//     the -kept rows keep one cluster client per goroutine, which golock does not.
//   - BenchmarkMemoryPerLock: 10,000 locks taken with lockscript: Redis's used_memory per
//     held lock (B/held-lock) and per released one (B/released-lock: what a lock leaves, its
//     fence counter and last-run record), and the keys each leaves.
//   - BenchmarkConnectionMemory: Redis's used_memory and RSS per idle connection (2,000 of
//     them, each having sent one PING), and per golock-like client holding a lock it has
//     renewed once (2,000 of them): a running golock job holds one connection all along.
//   - BenchmarkRenewal: one renewal of a held lock over the connection the run keeps
//     (kept), against one over a new connection per renewal (new-conn).
package redisbench
