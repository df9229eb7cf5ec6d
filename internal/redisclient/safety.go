package redisclient

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Safety is what one master's settings say about whether a held lock survives: eviction
// and persistence. golock --doctor judges it line by line; golock-exporter shows it as
// gauges.
type Safety struct {
	// Policy is maxmemory-policy, "" when unknown (INFO did not say and CONFIG GET was
	// refused, as on some managed Redis; PolicyErr says why).
	Policy    string
	PolicyErr error
	MaxMemory int64 // maxmemory in bytes; 0: no limit
	// Limited says a memory limit applies: maxmemory is set, or Redis is 32-bit (an
	// implicit 3 GB limit).
	Limited bool
	AOF     bool // appendonly is on
	// SavePoints are the RDB save points ("3600 1 300 100"), "" when there are none or
	// they are unknown (CONFIG GET refused: SaveErr says why).
	SavePoints string
	SaveErr    error
}

// Evicts reports whether Redis may evict a held lock once used memory reaches maxmemory:
// any policy but noeviction, with a limit that applies. False when the policy is unknown.
func (s Safety) Evicts() bool { return s.Policy != "" && s.Policy != "noeviction" && s.Limited }

// Persistent reports whether a restart keeps the locks (AOF, or RDB save points), and
// known whether that could be read.
func (s Safety) Persistent() (persistent, known bool) {
	if s.AOF || s.SavePoints != "" {
		return true, true
	}
	return false, s.SaveErr == nil
}

// ReadSafety reads Safety from one master (one Redis, or a master of a cluster).
func ReadSafety(ctx context.Context, node *redis.Client) (Safety, error) {
	raw, err := node.Info(ctx).Result()
	if err != nil {
		return Safety{}, err
	}
	return SafetyFrom(ctx, node, InfoFields(raw)), nil
}

// SafetyFrom is ReadSafety with the master's INFO fields read already.
func SafetyFrom(ctx context.Context, node *redis.Client, info map[string]string) Safety {
	s := Safety{Policy: info["maxmemory_policy"], AOF: info["aof_enabled"] == "1"}
	limit := info["maxmemory"]
	if s.Policy == "" || limit == "" {
		cfg, err := node.ConfigGet(ctx, "maxmemory*").Result()
		if err != nil {
			s.Policy, s.PolicyErr = "", err
		} else {
			s.Policy, limit = cfg["maxmemory-policy"], cfg["maxmemory"]
		}
	}
	s.MaxMemory, _ = strconv.ParseInt(limit, 10, 64)
	s.Limited = s.MaxMemory > 0 || info["arch_bits"] == "32"
	save, err := node.ConfigGet(ctx, "save").Result()
	s.SavePoints, s.SaveErr = strings.TrimSpace(save["save"]), err
	return s
}

// InfoFields reads INFO's or CLUSTER INFO's "key:value" lines.
func InfoFields(info string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}
