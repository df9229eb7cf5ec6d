package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/redisclient"
	"github.com/golock/golock/lockscript"
)

// checkServer reports on the Redis golock would use: TLS, the sentinels or the cluster,
// whether Redis answers and takes the password, and then, on each master, its version and
// role, the scripts, and the settings that can make a lock vanish: eviction, persistence
// and replicas.
func checkServer(ctx context.Context, r *report, cfg *config.Config, client redis.UniversalClient) {
	if tc := cfg.Redis().TLSConfig; tc != nil && cfg.Redis().Network != "unix" {
		checkTLS(ctx, r, cfg, tc)
	}
	if cfg.UseSentinel {
		checkSentinels(ctx, r, cfg)
	}
	where := redisclient.Address(cfg)
	start := time.Now()
	err := client.Ping(ctx).Err()
	took := time.Since(start)
	if err != nil {
		if h := redisclient.Hint(err); h != "" {
			r.line(markFail, "auth at %s: %v%s", where, err, h)
		} else {
			r.line(markFail, "Redis at %s: no answer: %v", where, err)
		}
		return
	}
	r.line(markOK, "Redis at %s: answers (PING took %v)", where, took.Round(10*time.Microsecond))
	r.line(markOK, "auth: %s", authSaid(cfg))
	switch c := client.(type) {
	case *redis.ClusterClient:
		checkCluster(ctx, r, c)
		var mu sync.Mutex
		var masters []*redis.Client
		err := c.ForEachMaster(ctx, func(_ context.Context, node *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			masters = append(masters, node)
			return nil
		})
		if err != nil {
			r.line(markFail, "cluster masters: %v", err)
		}
		sort.Slice(masters, func(i, j int) bool { return masters[i].Options().Addr < masters[j].Options().Addr })
		for _, node := range masters {
			checkMaster(ctx, r, cfg, node, "master "+node.Options().Addr+": ")
		}
	case *redis.Client:
		checkMaster(ctx, r, cfg, c, "")
	}
}

// authSaid says how golock authenticated, once Redis has answered.
func authSaid(cfg *config.Config) string {
	o := cfg.Redis()
	switch {
	case o.Password == "" && o.Username == "":
		return "no password set, and Redis asks for none"
	case o.Password == "":
		return "user " + o.Username + " accepted without a password"
	case o.Username == "":
		return "password accepted (Redis has requirepass)"
	}
	return "user " + o.Username + " and password accepted"
}

// checkTLS makes a TLS handshake of its own with each address golock dials first, with
// golock's TLS settings, and says whether the certificate was verified and by whom.
func checkTLS(ctx context.Context, r *report, cfg *config.Config, tc *tls.Config) {
	addrs := cfg.Addrs()
	if addrs == nil {
		addrs = []string{cfg.Redis().Addr}
	}
	for _, addr := range addrs {
		c := tc.Clone()
		if c.ServerName == "" {
			c.ServerName, _, _ = net.SplitHostPort(addr)
		}
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: cfg.RedisTimeout}, Config: c}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			r.line(markFail, "TLS to %s: %v%s", addr, err, tlsHint(err))
			continue
		}
		st := conn.(*tls.Conn).ConnectionState()
		conn.Close()
		if c.InsecureSkipVerify {
			r.line(markFail, "TLS to %s: %s, but the certificate is not verified (CRONLOCK_TLS_SKIP_VERIFY=yes): "+
				"anyone on the path can read the password and answer for Redis", addr, tls.VersionName(st.Version))
			continue
		}
		leaf := st.PeerCertificates[0]
		r.line(markOK, "TLS to %s: %s, certificate of %s verified for %s, issued by %s, valid until %s", addr,
			tls.VersionName(st.Version), leaf.Subject.CommonName, c.ServerName, leaf.Issuer.CommonName,
			leaf.NotAfter.UTC().Format(time.DateOnly))
	}
}

// tlsHint says which setting to look at for a failed verification.
func tlsHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return "; CRONLOCK_TLS_CA_CERT must name the CA that signed the server's certificate"
	case errors.As(err, &host):
		return "; set CRONLOCK_TLS_SERVER_NAME to a name the certificate holds"
	}
	return ""
}

// checkSentinels asks each sentinel about the master: its flags, and whether enough
// sentinels are reachable to agree on a failover (SENTINEL CKQUORUM).
func checkSentinels(ctx context.Context, r *report, cfg *config.Config) {
	seen := map[string]bool{}
	downAfter := time.Duration(0) // the longest any sentinel waits before it calls the master down
	for _, addr := range cfg.Addrs() {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: cfg.SentinelAuth,
			TLSConfig: cfg.Redis().TLSConfig, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
			DialTimeout: cfg.RedisTimeout, ReadTimeout: cfg.RedisTimeout, WriteTimeout: cfg.RedisTimeout})
		m, err := sc.Master(ctx, cfg.SentinelMaster).Result()
		if err != nil {
			r.line(markFail, "sentinel %s: no answer about master %s: %v", addr, cfg.SentinelMaster, err)
			sc.Close()
			continue
		}
		master := net.JoinHostPort(m["ip"], m["port"])
		seen[master] = true
		if ms, err := strconv.Atoi(m["down-after-milliseconds"]); err == nil {
			downAfter = max(downAfter, time.Duration(ms)*time.Millisecond)
		}
		flags := strings.Split(m["flags"], ",")
		bad := slices.DeleteFunc(slices.Clone(flags), func(f string) bool { return f == "master" })
		quorum, qerr := sc.CkQuorum(ctx, cfg.SentinelMaster).Result()
		sc.Close()
		said := fmt.Sprintf("sentinel %s: master %s at %s, flags %s, %s replica(s), %s other sentinel(s), quorum %s",
			addr, cfg.SentinelMaster, master, m["flags"], m["num-slaves"], m["num-other-sentinels"], m["quorum"])
		switch {
		case len(bad) > 0:
			r.line(markFail, "%s: the master is %s", said, strings.Join(bad, ","))
		case qerr != nil:
			r.line(markFail, "%s: no failover possible: %v", said, qerr)
		default:
			r.line(markOK, "%s: %s", said, quorum)
		}
	}
	checkFailoverTime(r, cfg, downAfter)
	if len(seen) > 1 {
		masters := make([]string, 0, len(seen))
		for m := range seen {
			masters = append(masters, m)
		}
		sort.Strings(masters)
		r.line(markFail, "the sentinels name different masters: %s (a failover under way, or a split)", strings.Join(masters, ", "))
	}
}

// checkFailoverTime compares how long a failover takes at least (the sentinels' or the
// cluster's down-after time, before any election) with the outage a job rides through in the
// worst phase, LEASE − KILL_GRACE − LEASE/3: a failover longer than that stops the jobs that
// run through it.
func checkFailoverTime(r *report, cfg *config.Config, downAfter time.Duration) {
	if downAfter <= 0 {
		return
	}
	worst := cfg.Lease - cfg.KillGrace - cfg.Lease/3
	if downAfter >= worst {
		r.line(markNote, "a failover takes more than %v (down-after), and a job rides through %v at worst "+
			"(CRONLOCK_LEASE − CRONLOCK_KILL_GRACE − LEASE/3): jobs running through a failover are stopped; "+
			"raise CRONLOCK_LEASE or lower down-after", downAfter, worst)
		return
	}
	r.line(markOK, "a failover's down-after (%v) is shorter than the outage a job rides through at worst (%v)", downAfter, worst)
}

// checkCluster asks every node of the cluster, masters and replicas, for its state.
func checkCluster(ctx context.Context, r *report, c *redis.ClusterClient) {
	var mu sync.Mutex
	var lines [][2]string // mark, text
	err := c.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		addr := node.Options().Addr
		mark, text := markOK, ""
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil {
			mark, text = markFail, fmt.Sprintf("cluster node %s: CLUSTER INFO: %v", addr, err)
		} else {
			f := redisclient.InfoFields(info)
			text = fmt.Sprintf("cluster node %s: cluster_state %s, %s of 16384 slots ok, %s nodes known",
				addr, f["cluster_state"], f["cluster_slots_ok"], f["cluster_known_nodes"])
			if f["cluster_state"] != "ok" || f["cluster_slots_ok"] != "16384" {
				mark = markFail
				text += ": locks in slots that are not ok cannot be taken or renewed"
			}
		}
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, [2]string{mark, text})
		return nil
	})
	if err != nil {
		r.line(markFail, "cluster: %v", err)
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][1] < lines[j][1] })
	for _, l := range lines {
		r.line(l[0], "%s", l[1])
	}
}

// checkMaster checks one master: version and role, the scripts, eviction, persistence and
// replicas. label names the node in a cluster.
func checkMaster(ctx context.Context, r *report, cfg *config.Config, node *redis.Client, label string) {
	raw, err := node.Info(ctx).Result()
	if err != nil {
		r.line(markUnknown, "%sINFO refused (%v): version, eviction, persistence and replicas unknown", label, err)
		return
	}
	info := redisclient.InfoFields(raw)
	r.line(markOK, "%sRedis %s, %s, %s", label, info["redis_version"], orUnknown(info["redis_mode"]), info["role"])
	if role := info["role"]; role != "master" {
		r.line(markFail, "%sthis Redis is a %s: it refuses golock's writes; point golock at the master", label, role)
	}
	checkScripts(ctx, r, node, label)
	checkCronlockForm(ctx, r, cfg, node, label)
	safety := redisclient.SafetyFrom(ctx, node, info)
	checkEviction(r, safety, label)
	checkPersistence(r, safety, label)
	checkReplicas(r, cfg, info, label)
}

// checkScripts says whether golock's scripts are in the server's script cache. A missing
// one is no problem: the first run sends it (EVALSHA falls back to EVAL).
func checkScripts(ctx context.Context, r *report, node *redis.Client, label string) {
	names := make([]string, 0, len(lockscript.All()))
	for name := range lockscript.All() {
		names = append(names, name)
	}
	sort.Strings(names)
	shas := make([]string, len(names))
	for i, name := range names {
		shas[i] = lockscript.All()[name].Hash()
	}
	loaded, err := node.ScriptExists(ctx, shas...).Result()
	if err != nil {
		r.line(markUnknown, "%sscripts: SCRIPT EXISTS refused: %v", label, err)
		return
	}
	var missing []string
	for i, ok := range loaded {
		if !ok {
			missing = append(missing, names[i])
		}
	}
	if len(missing) == 0 {
		r.line(markOK, "%sscripts: all %d loaded (%s)", label, len(names), strings.Join(names, ", "))
		return
	}
	r.line(markNote, "%sscripts: %d of %d loaded; not yet: %s (a run sends a script the server lacks, with EVAL)",
		label, len(names)-len(missing), len(names), strings.Join(missing, ", "))
}

// checkEviction: any maxmemory-policy but noeviction lets Redis drop keys once used memory
// reaches maxmemory, a held lock among them (the volatile-* policies drop keys with a TTL,
// and every lock has one). With maxmemory 0, a 64-bit Redis has no limit and evicts
// nothing (a 32-bit one has an implicit 3 GB limit).
func checkEviction(r *report, s redisclient.Safety, label string) {
	if s.Policy == "" {
		r.line(markUnknown, "%smaxmemory-policy: INFO does not say and CONFIG GET was refused (%v)", label, s.PolicyErr)
		return
	}
	said := fmt.Sprintf("%smaxmemory-policy %s, maxmemory %s", label, s.Policy, human(s.MaxMemory))
	switch {
	case s.Policy == "noeviction" && s.Limited:
		r.line(markOK, "%s: Redis never evicts a lock (when full it refuses new ones: golock exits 201)", said)
	case s.Policy == "noeviction":
		r.line(markOK, "%s: Redis never evicts a lock", said)
	case s.Limited:
		what := "keys"
		if strings.HasPrefix(s.Policy, "volatile-") {
			what = "keys with a TTL (every lock has one)"
		}
		r.line(markFail, "%s: when used memory reaches maxmemory, Redis evicts %s, and a held lock vanishes "+
			"while its job runs: set maxmemory-policy noeviction", said, what)
	default:
		r.line(markNote, "%s: no memory limit, so nothing is evicted now; once maxmemory is set, locks can be "+
			"evicted: set maxmemory-policy noeviction", said)
	}
}

// checkPersistence: without RDB save points and without AOF, a restart of Redis empties it
// and every held lock vanishes.
func checkPersistence(r *report, s redisclient.Safety, label string) {
	switch {
	case s.AOF:
		r.line(markOK, "%spersistence: AOF on: a restart keeps the locks", label)
	case s.SaveErr == nil && s.SavePoints != "":
		r.line(markOK, "%spersistence: RDB snapshots (save %s), AOF off: a restart keeps the locks of the last "+
			"snapshot, not those taken since", label, s.SavePoints)
	case s.SaveErr == nil:
		r.line(markFail, "%spersistence: none (no RDB save points, AOF off): a restart of Redis empties it, and "+
			"every held lock vanishes; a run that asks before the holder's next renewal takes it too: "+
			"set appendonly yes", label)
	default:
		r.line(markUnknown, "%spersistence: AOF off; RDB save points unknown (CONFIG GET refused: %v)", label, s.SaveErr)
	}
}

// checkReplicas counts the replicas that are online against CRONLOCK_MIN_REPLICAS.
func checkReplicas(r *report, cfg *config.Config, info map[string]string, label string) {
	online := 0
	for k, v := range info {
		if strings.HasPrefix(k, "slave") && strings.Contains(","+v+",", ",state=online,") {
			online++
		}
	}
	switch {
	case cfg.MinReplicas > online:
		r.line(markFail, "%sreplicas: %d online, fewer than CRONLOCK_MIN_REPLICAS=%d: every run would wait "+
			"CRONLOCK_REDIS_TIMEOUT for them, then exit 201 without running its job", label, online, cfg.MinReplicas)
	case cfg.MinReplicas > 0:
		r.line(markOK, "%sreplicas: %d online, CRONLOCK_MIN_REPLICAS=%d", label, online, cfg.MinReplicas)
	default:
		r.line(markOK, "%sreplicas: %d online; golock does not wait for them (CRONLOCK_MIN_REPLICAS=0)", label, online)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "mode unknown"
	}
	return s
}

// human is a number of bytes as Redis's own config would say it; 0 is "0 (no limit)".
func human(b int64) string {
	switch {
	case b <= 0:
		return "0 (no limit)"
	case b%(1<<30) == 0:
		return fmt.Sprintf("%dgb", b>>30)
	case b%(1<<20) == 0:
		return fmt.Sprintf("%dmb", b>>20)
	case b%(1<<10) == 0:
		return fmt.Sprintf("%dkb", b>>10)
	}
	return strconv.FormatInt(b, 10)
}
