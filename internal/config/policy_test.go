package config

import (
	"testing"
	"time"
)

func TestPolicyRefusals(t *testing.T) {
	checkRefusals(t, []refusal{
		{"limit zero", []string{"CRONLOCK_LIMIT=0"}, []string{"CRONLOCK_LIMIT"}, "must be 1 to 1000"},
		{"limit negative", []string{"CRONLOCK_LIMIT=-2"}, []string{"CRONLOCK_LIMIT"}, "must be 1 to 1000"},
		{"limit too many", []string{"CRONLOCK_LIMIT=1001"}, []string{"CRONLOCK_LIMIT"}, "must be 1 to 1000"},
		{"limit not a number", []string{"CRONLOCK_LIMIT=two"}, []string{"CRONLOCK_LIMIT"}, "whole number"},
		{"interval negative", []string{"CRONLOCK_INTERVAL=-1"}, []string{"CRONLOCK_INTERVAL"}, "0 or more"},
		{"interval past the last-run record", []string{"CRONLOCK_INTERVAL=2592001"}, []string{"CRONLOCK_INTERVAL"}, "at most 2592000s"},
		{"splay not a number", []string{"CRONLOCK_SPLAY=soon"}, []string{"CRONLOCK_SPLAY"}, "number of seconds"},
		{"splay equal to grace", []string{"CRONLOCK_SPLAY=40"}, []string{"CRONLOCK_SPLAY", "CRONLOCK_GRACE"}, "less than CRONLOCK_GRACE (40s)"},
		{"splay beyond grace", []string{"CRONLOCK_SPLAY=10", "CRONLOCK_GRACE=5"}, []string{"CRONLOCK_SPLAY", "CRONLOCK_GRACE"}, "less than"},
		{"replace not a boolean", []string{"CRONLOCK_REPLACE=perhaps"}, []string{"CRONLOCK_REPLACE"}, "yes or no"},
		{"lock delay negative", []string{"CRONLOCK_LOCK_DELAY=-3"}, []string{"CRONLOCK_LOCK_DELAY"}, "0 or more"},
		{"limit with interval", []string{"CRONLOCK_LIMIT=2", "CRONLOCK_INTERVAL=60"}, []string{"CRONLOCK_INTERVAL", "CRONLOCK_LIMIT=2"}, "choose one"},
		{"limit with replace", []string{"CRONLOCK_LIMIT=3", "CRONLOCK_REPLACE=yes"}, []string{"CRONLOCK_REPLACE", "CRONLOCK_LIMIT=3"}, "replace"},
	})
}

func TestPolicySettings(t *testing.T) {
	cfg, _, err := Load([]string{noFile, "CRONLOCK_LIMIT=5", "CRONLOCK_SPLAY=39.5", "CRONLOCK_LOCK_DELAY=2.5",
		"CRONLOCK_REPLACE=no", "CRONLOCK_INTERVAL=0"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limit != 5 || cfg.Splay != 39500*time.Millisecond || cfg.LockDelay != 2500*time.Millisecond || cfg.Replace {
		t.Errorf("got %+v", cfg)
	}
	cfg, _, err = Load([]string{noFile, "CRONLOCK_INTERVAL=3600", "CRONLOCK_REPLACE=yes"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Interval != time.Hour || !cfg.Replace || cfg.Limit != 1 {
		t.Errorf("got %+v", cfg)
	}
}
