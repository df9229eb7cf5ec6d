package main

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// noReplica is the kind of a span in which the sentinel set could not give golock the
// replicas CRONLOCK_MIN_REPLICAS asks for. The soak does not inject it: a failover leaves
// the new master without a replica until the old one is back and synced (a restart, then
// a full sync after Redis's diskless-sync delay of 5 s). It explains only an exit 201
// before any job whose line says the replicas did not acknowledge the lock; it is not a
// fault for anything else the judge counts.
const noReplica = "no-replica"

// replicaRefused is what golock says when the replicas did not acknowledge the lock.
const replicaRefused = "replicas acknowledged the lock"

// watchReplicas polls every node of the set every 50 ms until ctx ends, and records each
// span in which some golock could find a master with fewer than want online replicas: no
// node answered as a master (one asleep, say), or one that answered had too few.
func (w *world) watchReplicas(ctx context.Context, want int) {
	var clients []*redis.Client
	for _, n := range w.ss.nodes {
		clients = append(clients, redis.NewClient(&redis.Options{Addr: n.addr(), MaxRetries: -1,
			DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}))
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var gapFrom int64 // 0: no gap open
	for {
		tick := mono()
		short := tooFewReplicas(ctx, clients, want)
		switch {
		case short && gapFrom == 0:
			gapFrom = tick
		case !short && gapFrom != 0:
			w.recordGap(gapFrom, mono())
			gapFrom = 0
		}
		if !sleep(ctx, 50*time.Millisecond) {
			if gapFrom != 0 {
				w.recordGap(gapFrom, mono())
			}
			return
		}
	}
}

func (w *world) recordGap(from, to int64) {
	w.record(fault{kind: noReplica, window: window{from, to}, length: time.Duration(to - from)})
}

// tooFewReplicas tells whether no node answers as a master, or one that does has fewer
// than want replicas online.
func tooFewReplicas(ctx context.Context, clients []*redis.Client, want int) bool {
	masters := 0
	for _, c := range clients {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil || infoField(info, "role") != "master" {
			continue
		}
		masters++
		if strings.Count(info, ",state=online,") < want {
			return true
		}
	}
	return masters == 0
}
