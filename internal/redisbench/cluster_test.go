package redisbench

import (
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/internal/redistest"
)

// BenchmarkCluster drives golock runs on a free lock against a Redis Cluster of 1 and of
// 3 masters: a new cluster client per run, as a golock process makes it, whose first
// command fetches CLUSTER SLOTS from a seed before the acquire goes to the key's master.
// The -kept rows keep one cluster client per worker, which golock does not: Redis's cost
// without the connections and the map of slots.
func BenchmarkCluster(b *testing.B) {
	for _, masters := range []int{1, 3} {
		name := "masters=" + strconv.Itoa(masters)
		b.Run(name, func(b *testing.B) {
			cl := redistest.StartCluster(b, masters)
			cfg := golockConfig(b, cl.Env(), "CRONLOCK_GRACE=0")
			drive(b, nodes(cl), "run", func(w, k int) error {
				return golockRun(redisclient.Connect(cfg), lockName(w, k), runOptions(cfg))
			})
		})
		b.Run(name+"-kept", func(b *testing.B) {
			cl := redistest.StartCluster(b, masters)
			cfg := golockConfig(b, cl.Env(), "CRONLOCK_GRACE=0")
			kept := make([]redis.UniversalClient, workers)
			for w := range kept {
				kept[w] = redisclient.Connect(cfg)
				b.Cleanup(func() { kept[w].Close() })
			}
			drive(b, nodes(cl), "run", func(w, k int) error {
				return acquireRelease(kept[w], lockName(w, k), runOptions(cfg))
			})
		})
	}
}

// nodes is the masters of cl, for drive to measure.
func nodes(cl *redistest.Cluster) cluster {
	var all cluster
	for _, n := range cl.Nodes {
		all.clients = append(all.clients, n.Client())
	}
	return all
}
