package main

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
)

// With a password, go-redis authenticates in its handshake, HELLO 2 AUTH default PASSWORD,
// and a Redis without a password accepts that whatever the password is (its default user
// is "nopass"). cronlock sends AUTH PASSWORD instead, which such a Redis refuses: a
// password where none is wanted means the wrong server, or one whose requirepass was lost,
// and cronlock stops with 201. golock does the same: with a password set, the hook below
// answers go-redis's HELLO itself with an error, without sending it, and go-redis then
// authenticates with AUTH, as it does with a Redis older than HELLO. The handshake is
// still one round trip, and speaks RESP2 as before; without a password nothing changes.

// authLikeCronlock makes client authenticate with AUTH, as cronlock does, when a password
// is set; it must be called before the client's first command. The sentinels themselves
// are left alone: CRONLOCK_SENTINEL_AUTH is theirs.
func authLikeCronlock(cfg *config.Config, client redis.UniversalClient) {
	if cfg.Redis().Password == "" {
		return
	}
	switch c := client.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(node *redis.Client) { node.AddHook(authHook{}) })
	case *redis.Client: // one Redis, or the master the sentinels name
		c.AddHook(authHook{})
	}
}

// errHelloSkipped stands for a refused HELLO: it is a redis.Error, so go-redis goes on
// with AUTH.
var errHelloSkipped = helloSkipped("golock: HELLO not sent (golock authenticates with AUTH, as cronlock)")

type helloSkipped string

func (e helloSkipped) Error() string { return string(e) }
func (helloSkipped) RedisError()     {}

// passwordNotWanted is Redis refusing AUTH because it has no password.
type passwordNotWanted struct{ err error }

func (e *passwordNotWanted) Error() string {
	return "Redis has no password, yet one is set: " + e.err.Error()
}
func (e *passwordNotWanted) Unwrap() error { return e.err }

type authHook struct{}

func (authHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (authHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (authHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch cmd.Name() {
		case "hello":
			cmd.SetErr(errHelloSkipped)
			return errHelloSkipped
		case "auth":
			err := next(ctx, cmd)
			// Redis 6 and later, then Redis 5 and earlier.
			if err != nil && (strings.Contains(err.Error(), "without any password configured") ||
				strings.Contains(err.Error(), "no password is set")) {
				err = &passwordNotWanted{err}
				cmd.SetErr(err)
			}
			return err
		}
		return next(ctx, cmd)
	}
}

// passwordHint tells what to do about a password Redis does not want, or is "".
func passwordHint(err error) string {
	if errors.As(err, new(*passwordNotWanted)) {
		return "; Redis has no password, yet one is set in CRONLOCK_AUTH or CRONLOCK_URL (Redis would accept" +
			" any password for its default user): is this the right server? Set its requirepass, or unset the password"
	}
	return ""
}
