package redisclient

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// go-redis opens each connection with HELLO 2 (its handshake, a round trip), and with a
// password authenticates in it, HELLO 2 AUTH default PASSWORD, which a Redis without a
// password accepts whatever the password is (its default user is "nopass"). cronlock
// sends no HELLO: nothing at all without a password, AUTH PASSWORD with one, which such a
// Redis refuses: a password where none is wanted means the wrong server, or one whose
// requirepass was lost, and cronlock stops with 201. golock does the same: the hook below
// answers go-redis's HELLO itself with an error, without sending it, and go-redis goes on
// as with a Redis older than HELLO: in RESP2 (which golock speaks anyway), with AUTH when
// there is a password. A connection without a password thus costs no round trip before
// its first command, and a run sends Redis its acquire and release only.

// handshakeLikeCronlock makes client open its connections as cronlock does: no HELLO, and
// AUTH when a password is set. It must be called before the client's first command. The
// sentinels themselves are left alone: CRONLOCK_SENTINEL_AUTH is theirs.
func handshakeLikeCronlock(client redis.UniversalClient) {
	switch c := client.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(node *redis.Client) { node.AddHook(handshakeHook{}) })
	case *redis.Client: // one Redis, or the master the sentinels name
		c.AddHook(handshakeHook{})
	}
}

// errHelloSkipped stands for a refused HELLO: it is a redis.Error, so go-redis goes on
// in RESP2, with AUTH when there is a password.
var errHelloSkipped = helloSkipped("golock: HELLO not sent (golock opens connections as cronlock does)")

type helloSkipped string

func (e helloSkipped) Error() string { return string(e) }
func (helloSkipped) RedisError()     {}

// passwordNotWanted is Redis refusing AUTH because it has no password.
type passwordNotWanted struct{ err error }

func (e *passwordNotWanted) Error() string {
	return "Redis has no password, yet one is set: " + e.err.Error()
}
func (e *passwordNotWanted) Unwrap() error { return e.err }

type handshakeHook struct{}

func (handshakeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (handshakeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (handshakeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
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
