package config

import (
	"fmt"
	"time"
)

// The lease's timeline, which the settings below must fit. A run that last confirmed its
// lease at 0 renews at LEASE/3, each attempt bounded by min(REDIS_TIMEOUT, LEASE/6), and
// retries a failed attempt promptly. With CRONLOCK_ON_LOST=kill, if nothing is confirmed
// the job gets SIGTERM at the kill point, LEASE − KILL_GRACE, and SIGKILL
// min(100 ms, KILL_GRACE/2) before LEASE. A job starts only while more than KILL_GRACE of
// its first lease is left.
const (
	// DefaultKillGrace is KILL_GRACE when it is not set, or LEASE/3 when that is less.
	DefaultKillGrace = 5 * time.Second
	// MinKillGrace leaves room for the 100 ms between SIGKILL and the lease's end, and as
	// much again between SIGTERM and SIGKILL. The default KILL_GRACE reaches it only with a
	// LEASE of at least 3 × MinKillGrace.
	MinKillGrace = 200 * time.Millisecond
)

// relations fills in KillGrace when the user did not set it, then refuses the settings
// that are each valid alone but cannot work together, naming both variables:
//
//   - KILL_GRACE at least MinKillGrace: at 0 a job that ignores SIGTERM outlives its lease,
//     and below it SIGKILL comes too close to the lease's end to be sure.
//
//   - KILL_GRACE less than LEASE/2: the renewal at LEASE/3, bounded by LEASE/6, and a
//     retry must both come before the kill point, or a healthy job is killed for one slow
//     reply (at ⅔ LEASE or more, the kill point comes before the first renewal at all).
//
//   - RELEASE more than KILL_GRACE: when the lock lives at most RELEASE, a job is started
//     only with more than KILL_GRACE of it left, so it would never start.
//
//   - SPLAY less than GRACE: a host whose random sleep outlasts the grace hold of a short
//     job finds the lock free and runs it again.
//
//   - LIMIT above 1 with INTERVAL or REPLACE: one successful run per interval, or one run
//     replacing another, cannot mean anything with several holders at once.
//
// The other settings cannot make a run fail by themselves: GRACE only holds the lock longer
// (check bounds it by RELEASE); REDIS_TIMEOUT bounds the acquire, while each renewal is
// bounded by LEASE/6 whatever it is; WAIT and TIMEOUT only end a wait or a job sooner; a
// TIMEOUT beyond RELEASE lets the job run on unlocked, as cronlock does (documented).
func (c *Config) relations(killGraceSet bool) error {
	if !killGraceSet {
		c.KillGrace = min(DefaultKillGrace, c.Lease/3)
	}
	allowed := fmt.Sprintf("at least %v and less than half of CRONLOCK_LEASE", secs(MinKillGrace))
	switch {
	case !killGraceSet && c.KillGrace < MinKillGrace:
		msg := fmt.Sprintf("must be at least %v for the default CRONLOCK_KILL_GRACE (LEASE/3, at least %v), got %v",
			secs(3*MinKillGrace), secs(MinKillGrace), secs(c.Lease))
		if c.Lease/2 > MinKillGrace {
			msg += "; or set CRONLOCK_KILL_GRACE to " + allowed
		}
		return &Problem{"CRONLOCK_LEASE", msg}
	case c.Lease/2 <= MinKillGrace:
		return &Problem{"CRONLOCK_LEASE", fmt.Sprintf(
			"must be more than %v, so that CRONLOCK_KILL_GRACE (%s) fits, got %v",
			secs(2*MinKillGrace), allowed, secs(c.Lease))}
	case c.KillGrace < MinKillGrace || c.KillGrace >= c.Lease/2:
		return &Problem{"CRONLOCK_KILL_GRACE", fmt.Sprintf(
			"must be at least %v and less than half of CRONLOCK_LEASE=%v (%v), got %v: SIGKILL needs a margin before the lease ends, and a renewal and its retry must fit before the kill",
			secs(MinKillGrace), secs(c.Lease), secs(c.Lease/2), secs(c.KillGrace))}
	case c.Splay > 0 && c.Splay >= c.Grace:
		return &Problem{"CRONLOCK_SPLAY", fmt.Sprintf(
			"must be less than CRONLOCK_GRACE (%v), got %v: a host that sleeps past the grace hold would run a short job again",
			secs(c.Grace), secs(c.Splay))}
	case c.Limit > 1 && c.Interval > 0:
		return &Problem{"CRONLOCK_INTERVAL", fmt.Sprintf(
			"cannot be combined with CRONLOCK_LIMIT=%d: INTERVAL allows one successful run per interval, LIMIT several at once; choose one",
			c.Limit)}
	case c.Limit > 1 && c.Replace:
		return &Problem{"CRONLOCK_REPLACE", fmt.Sprintf(
			"cannot be combined with CRONLOCK_LIMIT=%d: which of the holders would it replace?", c.Limit)}
	case c.Release <= c.KillGrace:
		return &Problem{"CRONLOCK_RELEASE", fmt.Sprintf(
			"must be more than CRONLOCK_KILL_GRACE (%v), got %v: a job starts only with more than KILL_GRACE of its lock left",
			secs(c.KillGrace), secs(c.Release))}
	}
	return nil
}
