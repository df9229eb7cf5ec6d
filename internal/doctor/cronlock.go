package doctor

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/lockscript"
)

// checkCronlockForm notes the locks under CRONLOCK_PREFIX held in cronlock's string form
// while CRONLOCK_MIXED_FLEET is off: cronlock runs, or ran, beside golock. golock waits for
// such a lock, but cronlock meeting golock's lock (a hash) fails with WRONGTYPE and cron
// mails it, so a rolling migration wants the setting on. It reads only: SCAN and GET.
func checkCronlockForm(ctx context.Context, r *report, cfg *config.Config, node *redis.Client, label string) {
	if cfg.MixedFleet {
		return
	}
	found, err := lockscript.StringForm(ctx, node, cfg.Prefix)
	switch {
	case err != nil:
		r.line(markUnknown, "%slocks in cronlock's form under %s: %v", label, cfg.Prefix, err)
	case len(found) > 0:
		r.line(markNote, "%s%d lock(s) under %s in cronlock's string form (%s): cronlock runs beside golock, "+
			"and fails with WRONGTYPE on golock's locks; for a rolling migration set CRONLOCK_MIXED_FLEET=yes "+
			"on every golock host", label, len(found), cfg.Prefix, found[0])
	}
}
