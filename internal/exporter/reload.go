package exporter

import (
	"reflect"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/redisclient"
)

// Reload has the exporter read its settings again before every read of Redis, with load
// (config.Load, as at its start), as golock does on every run: a rotated password or a
// moved Redis in the config file takes effect at the next scrape, without a restart. When
// the file cannot be read or is invalid, the settings in use stay, and the problem is said
// once.
func (e *Exporter) Reload(load func() (*config.Config, error)) { e.load = load }

// refresh reads the settings again (see Reload); it runs before each read of Redis, which
// run one at a time.
func (e *Exporter) refresh() {
	if e.load == nil {
		return
	}
	cfg, err := e.load()
	if err != nil {
		if e.loadErr == nil || e.loadErr.Error() != err.Error() {
			e.log.Error("cannot read the settings again; the ones in use stay: " + err.Error())
		}
		e.loadErr = err
		return
	}
	e.loadErr = nil
	if sameSettings(cfg, e.cfg) {
		return
	}
	e.mu.Lock()
	old := e.client
	e.cfg, e.client = cfg, redisclient.Connect(cfg)
	e.mu.Unlock()
	_ = old.Close()
	e.log.Info("settings changed; connecting with the new ones", "redis", redisclient.Address(cfg), "prefix", cfg.Prefix)
}

// sameSettings reports whether a and b hold the same settings (their exported fields: what
// the environment and the config file gave).
func sameSettings(a, b *config.Config) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		if va.Type().Field(i).IsExported() && !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}
