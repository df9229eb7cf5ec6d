package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golock/golock/lockscript"
)

// pollEvery is the fallback when no release message arrives: a grace hold simply expires.
const pollEvery = time.Second

// wait retries a held lock with try until it is free or d (CRONLOCK_WAIT, or the bound of
// a CRONLOCK_REPLACE, which why names) runs out. Release and reset publish on the lock's
// channel, so a waiter starts as soon as the lock is free; a slow poll catches locks that
// expire on their own. first is the "held" reply that started the wait: what it ends with
// if no later one came.
func (j *job) wait(ctx context.Context, d time.Duration, why string, try func(context.Context) error, first error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	sub := j.Client.Subscribe(ctx, lockscript.Channel(j.Name))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is live from here on
		if cut(ctx) {
			return first // WAIT ran out, or a signal came, before the subscription was live
		}
		return err
	}
	msgs := sub.Channel()
	var h *lockscript.HeldError
	if errors.As(first, &h) {
		notice(j.Log, j.TTY)(fmt.Sprintf("%s; waiting up to %v s for it (%s)",
			heldBy(h.Holder, time.Now()), d.Seconds(), why))
	}
	last := first // the last "held" reply: what the wait ends with when it runs out
	for {
		err := try(ctx)
		var held *lockscript.HeldError
		switch {
		case errors.As(err, &held):
			last = err
		case err != nil && cut(ctx):
			return last // WAIT ran out, or a signal came, between retries
		default:
			return err
		}
		next := pollEvery
		if ttl := held.Holder.TTL; ttl > 0 && ttl < next {
			next = ttl + 5*time.Millisecond
		}
		select {
		case <-ctx.Done():
			return last
		case <-msgs:
		case <-time.After(next):
		}
	}
}

// held says that the lock is held elsewhere and nothing runs: one line for a person at a
// terminal, a debug line otherwise (cron mails nothing). A foreign value has had its
// warning already.
func (j *job) held(h lockscript.Holder) {
	if h.Kind == lockscript.Foreign {
		return
	}
	notice(j.Log, j.TTY)(heldBy(h, time.Now()) + "; not running (exit 200)")
}

// heldBy says who holds a lock, since when and, for a grace hold or a cronlock lock, until
// when, in local time as of now (the holder's age and TTL are Redis's).
func heldBy(h lockscript.Holder, now time.Time) string {
	switch h.Kind {
	case lockscript.Golock:
		s := fmt.Sprintf("lock held by %s pid %d since %s (%s ago)", h.Host, h.PID, clock(now.Add(-h.Age), now), h.Age.Round(time.Second))
		if h.Released && h.TTL > 0 {
			s += fmt.Sprintf(", its job ended; held for grace until %s (%s from now)", clock(now.Add(h.TTL), now), h.TTL.Round(time.Second))
		}
		return s
	case lockscript.Cronlock:
		return fmt.Sprintf("lock held by cronlock until %s (%s from now)", clock(h.Expires, now), h.Expires.Sub(now).Round(time.Second))
	}
	return "lock held by " + h.String()
}

// clock is t as a person reads it: the time of day, with the date when it is not today's.
func clock(t, now time.Time) string {
	if y, m, d := t.Date(); now.Day() != d || now.Month() != m || now.Year() != y {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("15:04:05")
}
