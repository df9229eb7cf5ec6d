package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/golocktest"
	"github.com/golock/golock/internal/redistest"
	"github.com/golock/golock/lockscript"
)

// The topology tests run the golock binary against Redis Sentinel, Redis Cluster and a
// master with a replica (CRONLOCK_MIN_REPLICAS), all real redis-server processes. Their
// helpers are named topo* to keep clear of other test files.

// topoEnv is golocktest.Env with settings (which may come from topoEnv already), each of
// overrides replacing a setting of the same name.
func topoEnv(settings []string, overrides ...string) []string {
	drop := func(env []string, name string) []string {
		return slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
	}
	env := drop(drop(slices.Clone(settings), "PATH"), "CRONLOCK_CONFIG")
	for _, kv := range overrides {
		k, _, _ := strings.Cut(kv, "=")
		env = append(drop(env, k), kv)
	}
	return golocktest.Env(env...)
}

// topoJob is a golocktest.Job in a directory of its own, ending with 0.
type topoJob struct {
	dir  string
	args []string
}

func newTopoJob(t *testing.T) *topoJob {
	t.Helper()
	dir := t.TempDir()
	return &topoJob{dir: dir, args: golocktest.Job(dir, 0, "")}
}

// owner waits for the job to start and returns its CRONLOCK_OWNER; wait is the golock
// running it, waited for when the job does not start.
func (j *topoJob) owner(t *testing.T, wait func() golocktest.Result) string {
	t.Helper()
	var job golocktest.JobInfo
	ok := redistest.Poll(15*time.Second, func() bool {
		var started bool
		job, started = golocktest.JobStarted(t, j.dir)
		return started
	})
	if !ok {
		r := wait()
		t.Fatalf("the job did not start: exit %d, stderr %q", r.Code, r.Stderr)
	}
	return job.Owner
}

// end tells the job to finish.
func (j *topoJob) end(t *testing.T) {
	t.Helper()
	golocktest.FinishJob(t, j.dir)
}

// ended is the file where the job writes the time it ended (unix ns).
func (j *topoJob) ended() string { return filepath.Join(j.dir, "ended") }

// topoWantFail checks a run that must fail before the job: exit 201, one line on stderr
// holding want (when not empty), and marker not created.
func topoWantFail(t *testing.T, r golocktest.Result, marker, want string) {
	t.Helper()
	cliWantCode(t, r, 201)
	if lines := cliLines(r.Stderr); len(lines) != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr %q, want one line holding %q", r.Stderr, want)
	}
	if cliExists(marker) {
		t.Error("the job ran")
	}
}

// topoWantRan checks a run that must have run its job silently: exit 0, marker created.
func topoWantRan(t *testing.T, r golocktest.Result, marker string) {
	t.Helper()
	cliWantCode(t, r, 0)
	if !cliExists(marker) {
		t.Error("the job did not run")
	}
	if r.Stderr != "" || r.Stdout != "" {
		t.Errorf("stdout %q, stderr %q; want nothing", r.Stdout, r.Stderr)
	}
}

// topoNoSecret fails the test when r's output shows any of secrets.
func topoNoSecret(t *testing.T, r golocktest.Result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("output shows a password:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
		}
	}
}

// topoOwner is the owner of the lock record at name on c, or "".
func topoOwner(c *redis.Client, name string) string {
	return c.HGet(context.Background(), name, "owner").Val()
}

// topoHandOff checks the CRONLOCK_WAIT hand-off on the Redis that env names: a waiter
// subscribes to the lock's channel (on one of servers) and takes the lock as soon as the
// holder releases it, pushed rather than polled.
func topoHandOff(t *testing.T, env []string, servers []*redis.Client) {
	t.Helper()
	ctx := context.Background()
	holder := newTopoJob(t)
	waitHolder := golocktest.Start(t, env, holder.args...).Wait
	holder.owner(t, waitHolder)
	began := cliPath(t, "began")
	waitWaiter := golocktest.Start(t, topoEnv(env, "CRONLOCK_WAIT=10"), "sh", "-c", `date +%s%N > "$1"`, "job", began).Wait
	var name string
	for _, kv := range env {
		if key, ok := strings.CutPrefix(kv, "CRONLOCK_KEY="); ok {
			name = "cronlock." + key
		}
	}
	channel := lockscript.Channel(name)
	subscribed := redistest.Poll(10*time.Second, func() bool {
		var n int64
		for _, c := range servers {
			n += c.PubSubNumSub(ctx, channel).Val()[channel]
		}
		return n > 0
	})
	if !subscribed {
		t.Errorf("no server has a subscriber on %s: the waiter does not listen for the release", channel)
	}
	holder.end(t)
	h, w := waitHolder(), waitWaiter()
	cliWantCode(t, h, 0)
	cliWantCode(t, w, 0)
	delay := golocktest.ReadNanos(t, began).Sub(golocktest.ReadNanos(t, holder.ended()))
	t.Logf("hand-off: the waiter's job began %v after the holder's ended", delay.Round(time.Millisecond))
	if delay < 0 || delay > 500*time.Millisecond {
		t.Errorf("the waiter's job began %v after the holder's ended; want within half a second (pushed, not polled)", delay)
	}
	if h.Stderr != "" || w.Stderr != "" {
		t.Errorf("stderr: holder %q, waiter %q; want nothing", h.Stderr, w.Stderr)
	}
}

// TestSentinel checks that golock finds the master through the sentinels (also when the
// first one listed is down, and with CRONLOCK_SENTINEL_PORT for entries without a port),
// keeps its lock there (in CRONLOCK_DB), waits for replicas, resets, hands off to a
// waiter, and fails in one line with a wrong master name or no sentinel.
func TestSentinel(t *testing.T) {
	t.Parallel()
	sen := redistest.StartSentinel(t, 3)
	master, replica := sen.Master.Client(), sen.Replica.Client()
	ctx := context.Background()

	t.Run("lock on the master", func(t *testing.T) {
		t.Parallel()
		env := topoEnv(sen.Env(), "CRONLOCK_KEY=sentinel-master")
		job := newTopoJob(t)
		wait := golocktest.Start(t, env, job.args...).Wait
		owner := job.owner(t, wait)
		if got := topoOwner(master, "cronlock.sentinel-master"); got != owner {
			t.Errorf("lock owner on the master %q, want the job's %q", got, owner)
		}
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, env, "touch", marker)
		cliWantCode(t, r, 200)
		if cliExists(marker) || r.Stderr != "" {
			t.Errorf("competitor: job ran %v, stderr %q; want no run and nothing said", cliExists(marker), r.Stderr)
		}
		job.end(t)
		r = wait()
		cliWantCode(t, r, 0)
		if r.Stderr != "" || r.Stdout != "" {
			t.Errorf("stdout %q, stderr %q; want nothing", r.Stdout, r.Stderr)
		}
	})
	t.Run("first sentinel down", func(t *testing.T) {
		t.Parallel()
		dead := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
		hosts := dead
		for _, p := range sen.SentinelPorts {
			hosts += ",127.0.0.1:" + strconv.Itoa(p)
		}
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(sen.Env(), "CRONLOCK_SENTINEL_HOST="+hosts, "CRONLOCK_KEY=sentinel-dead"), "touch", marker)
		topoWantRan(t, r, marker)
		if master.Exists(ctx, "cronlock.sentinel-dead").Val() != 1 {
			t.Error("the lock is not on the master")
		}
	})
	t.Run("default sentinel port", func(t *testing.T) {
		t.Parallel()
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(sen.Env(), "CRONLOCK_SENTINEL_HOST=127.0.0.1",
			"CRONLOCK_SENTINEL_PORT="+strconv.Itoa(sen.SentinelPorts[1]), "CRONLOCK_KEY=sentinel-port"), "touch", marker)
		topoWantRan(t, r, marker)
		if master.Exists(ctx, "cronlock.sentinel-port").Val() != 1 {
			t.Error("the lock is not on the master")
		}
	})
	t.Run("min replicas", func(t *testing.T) {
		t.Parallel()
		env := topoEnv(sen.Env(), "CRONLOCK_MIN_REPLICAS=1", "CRONLOCK_KEY=sentinel-replicas")
		job := newTopoJob(t)
		wait := golocktest.Start(t, env, job.args...).Wait
		owner := job.owner(t, wait)
		// WAIT returned before the job started: the replica has the record already.
		if got := topoOwner(replica, "cronlock.sentinel-replicas"); got != owner {
			t.Errorf("lock owner on the replica when the job started %q, want %q", got, owner)
		}
		job.end(t)
		cliWantCode(t, wait(), 0)
	})
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		env := topoEnv(sen.Env(), "CRONLOCK_KEY=sentinel-reset")
		cliWantCode(t, golocktest.Run(t, env, "true"), 0)
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(env, "CRONLOCK_RESET=yes"), "touch", marker)
		cliWantCode(t, r, 200)
		if cliExists(marker) || r.Stderr != "" {
			t.Errorf("reset: job ran %v, stderr %q", cliExists(marker), r.Stderr)
		}
		if master.Exists(ctx, "cronlock.sentinel-reset").Val() != 0 {
			t.Fatal("the lock is still there after the reset")
		}
		topoWantRan(t, golocktest.Run(t, env, "touch", marker), marker)
	})
	t.Run("wait hand-off", func(t *testing.T) {
		t.Parallel()
		topoHandOff(t, topoEnv(sen.Env(), "CRONLOCK_KEY=sentinel-wait", "CRONLOCK_GRACE=0"),
			[]*redis.Client{master, replica})
	})
	t.Run("database", func(t *testing.T) {
		t.Parallel()
		marker := cliPath(t, "ran")
		topoWantRan(t, golocktest.Run(t, topoEnv(sen.Env(), "CRONLOCK_DB=3", "CRONLOCK_KEY=sentinel-db"), "touch", marker), marker)
		db3 := redis.NewClient(&redis.Options{Addr: sen.Master.Addr(), DB: 3})
		defer db3.Close()
		if db3.Exists(ctx, "cronlock.sentinel-db").Val() != 1 || master.Exists(ctx, "cronlock.sentinel-db").Val() != 0 {
			t.Error("the lock is not in database 3 of the master")
		}
	})
	t.Run("wrong master name", func(t *testing.T) {
		t.Parallel()
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(sen.Env(), "CRONLOCK_SENTINEL_MASTER=nosuchmaster",
			"CRONLOCK_RECONNECT_BACKOFF=0.1"), "touch", marker)
		// The sentinels answered: the name is wrong, and the line must say which setting.
		topoWantFail(t, r, marker, "CRONLOCK_SENTINEL_MASTER")
		if !strings.Contains(r.Stderr, "nosuchmaster") {
			t.Errorf("stderr %q does not name the master golock asked for", r.Stderr)
		}
		t.Logf("took %v: %s", r.Took.Round(time.Millisecond), r.Stderr)
	})
	t.Run("no sentinel", func(t *testing.T) {
		t.Parallel()
		marker := cliPath(t, "ran")
		dead := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
		r := golocktest.Run(t, topoEnv(sen.Env(), "CRONLOCK_SENTINEL_HOST="+dead,
			"CRONLOCK_RECONNECT_ATTEMPTS=2", "CRONLOCK_RECONNECT_BACKOFF=0.3"), "touch", marker)
		topoWantFail(t, r, marker, dead)
		// Sentinels that cannot be reached are retried like Redis: after 0 s, then 0.3 s.
		if r.Took < 300*time.Millisecond || r.Took > 3*time.Second {
			t.Errorf("gave up after %v, want about 0.3 s (two retries)", r.Took)
		}
	})
}

// TestSentinelPassword checks CRONLOCK_AUTH (the master's password) and
// CRONLOCK_SENTINEL_AUTH (the sentinels'): right ones run the job; a wrong one fails in one
// line, and no output ever shows a password.
func TestSentinelPassword(t *testing.T) {
	t.Parallel()
	const masterPW, sentinelPW, wrong = "Master-Horse-42", "Sentinel-Staple-9", "Wrong-Battery-7"
	sen := redistest.StartSentinelWithPassword(t, 1, sentinelPW, redistest.WithPassword(masterPW))
	tests := []struct {
		name string
		env  []string
		want int
		hint string // the setting the error line must name
	}{
		{"right", nil, 0, ""},
		{"right, verbose", []string{"CRONLOCK_VERBOSE=yes"}, 0, ""},
		{"wrong master password", []string{"CRONLOCK_AUTH=" + wrong}, 201, "CRONLOCK_AUTH"},
		{"wrong master password, verbose", []string{"CRONLOCK_AUTH=" + wrong, "CRONLOCK_VERBOSE=yes"}, 201, "CRONLOCK_AUTH"},
		{"missing master password", []string{"CRONLOCK_AUTH="}, 201, "CRONLOCK_AUTH"},
		{"wrong sentinel password", []string{"CRONLOCK_SENTINEL_AUTH=" + wrong}, 201, "CRONLOCK_SENTINEL_AUTH"},
		{"wrong sentinel password, verbose", []string{"CRONLOCK_SENTINEL_AUTH=" + wrong, "CRONLOCK_VERBOSE=yes"}, 201, "CRONLOCK_SENTINEL_AUTH"},
		{"missing sentinel password", []string{"CRONLOCK_SENTINEL_AUTH="}, 201, "CRONLOCK_SENTINEL_AUTH"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			marker := cliPath(t, "ran")
			env := topoEnv(sen.Env(), append(tt.env, "CRONLOCK_KEY=sentinel-pw-"+strconv.Itoa(i),
				"CRONLOCK_RECONNECT_BACKOFF=0.1")...)
			r := golocktest.Run(t, env, "touch", marker)
			topoNoSecret(t, r, masterPW, sentinelPW, wrong)
			switch {
			case tt.want == 0:
				cliWantCode(t, r, 0)
				if !cliExists(marker) {
					t.Error("the job did not run")
				}
			case strings.Contains(tt.name, "verbose"):
				cliWantCode(t, r, 201)
				if cliExists(marker) {
					t.Error("the job ran")
				}
				if !strings.Contains(r.Stderr, tt.hint) {
					t.Errorf("stderr %q does not name %s", r.Stderr, tt.hint)
				}
			default:
				topoWantFail(t, r, marker, tt.hint)
			}
			t.Logf("took %v: %s", r.Took.Round(time.Millisecond), r.Stderr)
		})
	}
}

// TestSentinelFailover checks golock across a failover: locks taken before it stay held
// on the new master while their jobs run (replicated there, or written again by the
// heartbeat when the replica had missed them), competitors get 200, and a new run finds the
// new master.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	sen := redistest.StartSentinel(t, 3)
	ctx := context.Background()
	const lease = 1500 * time.Millisecond
	env := func(key string) []string {
		return topoEnv(sen.Env(), "CRONLOCK_LEASE=1.5", "CRONLOCK_GRACE=0", "CRONLOCK_KEY="+key)
	}
	oldMaster, newMaster := sen.Master.Client(), sen.Replica.Client()

	// "replicated" is a lock the replica has when it is promoted (unless it expires there
	// before golock follows the failover: then it is written again, as "missed" is).
	// "missed" is a lock the replica does not have (deleted there by hand), as when the
	// master fails before replicating it.
	type held struct {
		name  string
		job   *topoJob
		owner string
		wait  func() golocktest.Result
	}
	var locks []*held
	for _, key := range []string{"failover-replicated", "failover-missed"} {
		h := &held{name: "cronlock." + key, job: newTopoJob(t)}
		h.wait = golocktest.Start(t, env(key), h.job.args...).Wait
		h.owner = h.job.owner(t, h.wait)
		if got := topoOwner(oldMaster, h.name); got != h.owner {
			t.Fatalf("%s: owner on the master %q, want the job's %q", h.name, got, h.owner)
		}
		if !redistest.Poll(5*time.Second, func() bool { return topoOwner(newMaster, h.name) == h.owner }) {
			t.Fatalf("%s did not reach the replica", h.name)
		}
		locks = append(locks, h)
	}
	if err := newMaster.ConfigSet(ctx, "replica-read-only", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if err := newMaster.Del(ctx, "cronlock.failover-missed").Err(); err != nil {
		t.Fatal(err)
	}

	sen.Failover()
	promoted := time.Now()
	t.Logf("failover done: master %s", sen.MasterAddr())

	// A heartbeat after the failover has reached the new master when the lock there
	// expires later than any extension replicated before the failover could make it.
	for _, h := range locks {
		var state string
		ok := redistest.Poll(5*time.Second, func() bool {
			got := topoOwner(newMaster, h.name)
			ttl := newMaster.PTTL(ctx, h.name).Val()
			state = fmt.Sprintf("owner %q, TTL %v", got, ttl)
			return got == h.owner && time.Now().Add(ttl).After(promoted.Add(lease+100*time.Millisecond))
		})
		if !ok {
			t.Errorf("%s: no heartbeat reached the new master within 5 s of the failover (%s; old master: owner %q)",
				h.name, state, topoOwner(oldMaster, h.name))
			continue
		}
		t.Logf("%s: extended on the new master %v after the failover", h.name, time.Since(promoted).Round(time.Millisecond))
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, env(strings.TrimPrefix(h.name, "cronlock.")), "touch", marker)
		cliWantCode(t, r, 200)
		if cliExists(marker) {
			t.Errorf("%s: a competitor ran its job while the lock was held across the failover", h.name)
		}
	}

	marker := cliPath(t, "ran")
	r := golocktest.Run(t, topoEnv(sen.Env(), "CRONLOCK_KEY=failover-new"), "touch", marker)
	topoWantRan(t, r, marker)
	if newMaster.Exists(ctx, "cronlock.failover-new").Val() != 1 {
		t.Error("a run after the failover did not lock on the new master")
	}

	for _, h := range locks {
		h.job.end(t)
		r := h.wait()
		cliWantCode(t, r, 0) // a lost lock would have killed the job: 201
		if n := len(cliLines(r.Stderr)); n > 2 {
			t.Errorf("%s: golock said %d lines across the failover, want at most a warning and a recovery:\n%s", h.name, n, r.Stderr)
		}
		t.Logf("%s: golock's stderr across the failover: %q", h.name, r.Stderr)
	}
}

// TestSentinelMasterDown checks golock when the master dies and the sentinels promote the
// replica on their own: a job that holds a lock runs on, its heartbeat carrying the lock
// to the new master, and a run that starts while the master is down retries on its
// schedule until the new master is there, then runs its job.
func TestSentinelMasterDown(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: skipped under -short; runs in the full suite (./tools/test)")
	}
	t.Parallel()
	sen := redistest.StartSentinel(t, 3)
	ctx := context.Background()
	replica := sen.Replica.Client()
	// The lease outlasts the failover (3 to 4 s): the heartbeat, every 5 s, fails until
	// the new master is there, but the lock is not lost.
	const lease = 15 * time.Second
	longEnv := topoEnv(sen.Env(), "CRONLOCK_LEASE=15", "CRONLOCK_GRACE=0", "CRONLOCK_KEY=master-down-long")
	long := newTopoJob(t)
	waitLong := golocktest.Start(t, longEnv, long.args...).Wait
	owner := long.owner(t, waitLong)
	if !redistest.Poll(5*time.Second, func() bool { return topoOwner(replica, "cronlock.master-down-long") == owner }) {
		t.Fatal("the lock did not reach the replica")
	}

	sen.Master.Kill()
	killed := time.Now()
	marker := cliPath(t, "ran")
	// Retries wait 0, 0.5, 1, ... 5.5 s: 33 s in all, well beyond a failover.
	wait := golocktest.Start(t, topoEnv(sen.Env(), "CRONLOCK_RECONNECT_ATTEMPTS=12", "CRONLOCK_RECONNECT_BACKOFF=0.5",
		"CRONLOCK_KEY=master-down"), "touch", marker).Wait
	sen.AwaitFailover(30 * time.Second)
	t.Logf("the sentinels promoted the replica %v after the master was killed", time.Since(killed).Round(time.Millisecond))
	r := wait()
	topoWantRan(t, r, marker)
	t.Logf("golock ran its job %v after the master was killed", time.Since(killed).Round(time.Millisecond))
	if replica.Exists(ctx, "cronlock.master-down").Val() != 1 {
		t.Error("the lock is not on the promoted replica")
	}

	// Every extension made before the kill expires by killed+lease: a later expiry is a
	// heartbeat that reached the new master.
	var state string
	ok := redistest.Poll(15*time.Second, func() bool {
		got := topoOwner(replica, "cronlock.master-down-long")
		ttl := replica.PTTL(ctx, "cronlock.master-down-long").Val()
		state = fmt.Sprintf("owner %q, TTL %v", got, ttl)
		return got == owner && time.Now().Add(ttl).After(killed.Add(lease+100*time.Millisecond))
	})
	if !ok {
		t.Errorf("the running job's heartbeat did not reach the new master (%s)", state)
	} else {
		t.Logf("the running job's lock was extended on the new master %v after the kill", time.Since(killed).Round(time.Millisecond))
	}
	competitor := cliPath(t, "ran")
	cliWantCode(t, golocktest.Run(t, longEnv, "touch", competitor), 200)
	if cliExists(competitor) {
		t.Error("a competitor ran its job while the lock was held across the failover")
	}
	long.end(t)
	r = waitLong()
	cliWantCode(t, r, 0) // a lost lock would have killed the job: 201
	if n := len(cliLines(r.Stderr)); n > 3 {
		t.Errorf("golock said %d lines across the failover, want at most a warning, a recovery and a re-establishment:\n%s", n, r.Stderr)
	}
	t.Logf("golock's stderr across the failover: %q", r.Stderr)
}

// TestCluster checks golock on a Redis Cluster of three masters: locks under many names land
// on different nodes, each with its fence key on the same node; competitors get 200; RESET
// and the CRONLOCK_WAIT hand-off work; a dead first seed or a seed without a port is fine;
// CRONLOCK_DB and CRONLOCK_MIN_REPLICAS that a cluster cannot honour fail in one line.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	c := cl.Client()
	ctx := context.Background()

	t.Run("locks across nodes", func(t *testing.T) {
		t.Parallel()
		keys := []string{"{tagged}job", "odd}key", "x{}y"}
		for i := range 9 {
			keys = append(keys, "cluster-job-"+strconv.Itoa(i))
		}
		nodes := map[int]bool{}
		for _, key := range keys {
			env := topoEnv(cl.Env(), "CRONLOCK_KEY="+key)
			marker := cliPath(t, "ran")
			topoWantRan(t, golocktest.Run(t, env, "touch", marker), marker)

			name, fence := "cronlock."+key, lockscript.FenceKey("cronlock."+key)
			slot, fenceSlot := c.ClusterKeySlot(ctx, name).Val(), c.ClusterKeySlot(ctx, fence).Val()
			if slot != fenceSlot {
				t.Errorf("%s is in slot %d, its fence key %s in slot %d", name, slot, fence, fenceSlot)
			}
			node := cl.SlotNode(int(slot))
			nodes[node.Port] = true
			if n := node.Client().Exists(ctx, name, fence).Val(); n != 2 {
				t.Errorf("%s and %s: %d of them on node %s, which serves slot %d; want both", name, fence, n, node.Addr(), slot)
			}
			// The lock is held for the grace time: a competitor must not run.
			marker = cliPath(t, "ran")
			r := golocktest.Run(t, env, "touch", marker)
			cliWantCode(t, r, 200)
			if cliExists(marker) || r.Stderr != "" {
				t.Errorf("%s: competitor ran %v, stderr %q", name, cliExists(marker), r.Stderr)
			}
		}
		if len(nodes) != len(cl.Nodes) {
			t.Errorf("the locks landed on %d nodes, want all %d", len(nodes), len(cl.Nodes))
		}
	})
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		env := topoEnv(cl.Env(), "CRONLOCK_KEY=cluster-reset")
		cliWantCode(t, golocktest.Run(t, env, "true"), 0)
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(cl.Env(), "CRONLOCK_KEY=cluster-reset", "CRONLOCK_RESET=yes"), "touch", marker)
		cliWantCode(t, r, 200)
		if cliExists(marker) || r.Stderr != "" {
			t.Errorf("reset: job ran %v, stderr %q", cliExists(marker), r.Stderr)
		}
		if c.Exists(ctx, "cronlock.cluster-reset").Val() != 0 {
			t.Fatal("the lock is still there after the reset")
		}
		topoWantRan(t, golocktest.Run(t, env, "touch", marker), marker)
	})
	t.Run("wait hand-off", func(t *testing.T) {
		t.Parallel()
		var nodes []*redis.Client
		for _, n := range cl.Nodes {
			nodes = append(nodes, n.Client())
		}
		topoHandOff(t, topoEnv(cl.Env(), "CRONLOCK_KEY=cluster-wait", "CRONLOCK_GRACE=0"), nodes)
	})
	t.Run("first seed down", func(t *testing.T) {
		t.Parallel()
		hosts := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
		for _, n := range cl.Nodes {
			hosts += "," + n.Addr()
		}
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(cl.Env(), "CRONLOCK_HOST="+hosts, "CRONLOCK_KEY=cluster-dead-seed"), "touch", marker)
		topoWantRan(t, r, marker)
		if c.Exists(ctx, "cronlock.cluster-dead-seed").Val() != 1 {
			t.Error("the lock is not in the cluster")
		}
	})
	t.Run("one seed without a port", func(t *testing.T) {
		t.Parallel()
		// A key served by the last node, reached through the first: the client follows the
		// cluster's map.
		var key string
		for i := 0; key == ""; i++ {
			k := "cluster-seed-" + strconv.Itoa(i)
			if cl.SlotNode(int(c.ClusterKeySlot(ctx, "cronlock."+k).Val())) == cl.Nodes[len(cl.Nodes)-1] {
				key = k
			}
		}
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(cl.Env(), "CRONLOCK_HOST=127.0.0.1", "CRONLOCK_PORT="+strconv.Itoa(cl.Nodes[0].Port),
			"CRONLOCK_KEY="+key), "touch", marker)
		topoWantRan(t, r, marker)
		if cl.Nodes[len(cl.Nodes)-1].Client().Exists(ctx, "cronlock."+key).Val() != 1 {
			t.Error("the lock is not on the node that serves it")
		}
	})
	t.Run("database", func(t *testing.T) {
		t.Parallel()
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(cl.Env(), "CRONLOCK_DB=1"), "touch", marker)
		topoWantFail(t, r, marker, "CRONLOCK_DB")
	})
	t.Run("min replicas", func(t *testing.T) {
		t.Parallel()
		// These masters have no replicas: WAIT 1 gets no acknowledgement.
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(cl.Env(), "CRONLOCK_MIN_REPLICAS=1", "CRONLOCK_REDIS_TIMEOUT=0.5",
			"CRONLOCK_KEY=cluster-replicas"), "touch", marker)
		topoWantFail(t, r, marker, "CRONLOCK_MIN_REPLICAS")
		if c.Exists(ctx, "cronlock.cluster-replicas").Val() != 0 {
			t.Error("the lock is still held after a run that did not start its job")
		}
	})
}

// TestClusterPassword checks CRONLOCK_AUTH on a cluster: the right password reaches every
// node, a wrong one fails in one line, and no output shows a password.
func TestClusterPassword(t *testing.T) {
	t.Parallel()
	const right, wrong = "Cluster-Horse-42", "Wrong-Battery-7"
	cl := redistest.StartCluster(t, 2, redistest.WithPassword(right))
	c := cl.Client()
	ctx := context.Background()
	for _, key := range []string{"cluster-pw-a", "cluster-pw-b", "cluster-pw-c", "cluster-pw-d"} {
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(cl.Env(), "CRONLOCK_KEY="+key), "touch", marker)
		topoWantRan(t, r, marker)
		if c.Exists(ctx, "cronlock."+key).Val() != 1 {
			t.Errorf("cronlock.%s is not in the cluster", key)
		}
	}
	marker := cliPath(t, "ran")
	r := golocktest.Run(t, topoEnv(cl.Env(), "CRONLOCK_AUTH="+wrong, "CRONLOCK_RECONNECT_BACKOFF=0.1"), "touch", marker)
	topoWantFail(t, r, marker, "CRONLOCK_AUTH")
	topoNoSecret(t, r, right, wrong)
}

// TestMinReplicas checks CRONLOCK_MIN_REPLICAS on a master with one replica: the job starts
// only once the replica has the lock; when too few replicas acknowledge within
// CRONLOCK_REDIS_TIMEOUT, golock exits 201 in one line, runs nothing and frees the lock.
func TestMinReplicas(t *testing.T) {
	t.Parallel()
	t.Run("acknowledged", func(t *testing.T) {
		t.Parallel()
		master := redistest.Start(t)
		replica := redistest.StartReplica(t, master)
		env := topoEnv(master.Env(), "CRONLOCK_MIN_REPLICAS=1", "CRONLOCK_KEY=replicas")
		job := newTopoJob(t)
		wait := golocktest.Start(t, env, job.args...).Wait
		owner := job.owner(t, wait)
		if got := topoOwner(replica.Client(), "cronlock.replicas"); got != owner {
			t.Errorf("lock owner on the replica when the job started %q, want the job's %q", got, owner)
		}
		job.end(t)
		r := wait()
		cliWantCode(t, r, 0)
		if r.Stderr != "" {
			t.Errorf("stderr %q, want nothing", r.Stderr)
		}
	})
	t.Run("too few replicas", func(t *testing.T) {
		t.Parallel()
		master := redistest.Start(t)
		redistest.StartReplica(t, master)
		env := topoEnv(master.Env(), "CRONLOCK_REDIS_TIMEOUT=0.5", "CRONLOCK_KEY=replicas")
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(env, "CRONLOCK_MIN_REPLICAS=2"), "touch", marker)
		topoWantFail(t, r, marker, "CRONLOCK_MIN_REPLICAS=2")
		if r.Took > 3*time.Second {
			t.Errorf("took %v; WAIT should give up after CRONLOCK_REDIS_TIMEOUT=0.5", r.Took)
		}
		if master.Client().Exists(context.Background(), "cronlock.replicas").Val() != 0 {
			t.Error("the lock is still held after a run that did not start its job")
		}
		topoWantRan(t, golocktest.Run(t, topoEnv(env, "CRONLOCK_MIN_REPLICAS=0"), "touch", marker), marker)
	})
	t.Run("replica paused", func(t *testing.T) {
		t.Parallel()
		master := redistest.Start(t)
		replica := redistest.StartReplica(t, master)
		replica.Pause()
		t.Cleanup(replica.Resume)
		env := topoEnv(master.Env(), "CRONLOCK_REDIS_TIMEOUT=0.5", "CRONLOCK_KEY=replicas")
		marker := cliPath(t, "ran")
		r := golocktest.Run(t, topoEnv(env, "CRONLOCK_MIN_REPLICAS=1"), "touch", marker)
		topoWantFail(t, r, marker, "CRONLOCK_MIN_REPLICAS=1")
		if master.Client().Exists(context.Background(), "cronlock.replicas").Val() != 0 {
			t.Error("the lock is still held after a run that did not start its job")
		}
		topoWantRan(t, golocktest.Run(t, topoEnv(env, "CRONLOCK_MIN_REPLICAS=0"), "touch", marker), marker)
	})
}
