package main

import (
	"context"
	"errors"
	"time"

	"github.com/golock/golock/lockscript"
)

// pollEvery is the fallback when no release message arrives: a grace hold simply expires.
const pollEvery = time.Second

// wait retries a held lock with try until it is free or CRONLOCK_WAIT runs out. Release
// and reset publish on the lock's channel, so a waiter starts as soon as the lock is free;
// a slow poll catches locks that expire on their own.
// held is the "held" reply that started the wait: what it ends with if no later one came.
func (j *job) wait(ctx context.Context, try func(context.Context) error, held error) error {
	ctx, cancel := context.WithTimeout(ctx, j.cfg.Wait)
	defer cancel()
	sub := j.client.Subscribe(ctx, lockscript.Channel(j.name))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is live from here on
		if cut(ctx) {
			return held // WAIT ran out, or a signal came, before the subscription was live
		}
		return err
	}
	msgs := sub.Channel()
	j.log.Debug("lock held; waiting", "for", j.cfg.Wait.String())
	last := held // the last "held" reply: what the wait ends with when it runs out
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
