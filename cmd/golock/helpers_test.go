package main

import (
	"testing"

	"github.com/golock/golock/internal/golocktest"
)

// The tests of this package run golock as cron would, built and launched by golocktest,
// against real redis-server processes that redistest starts.

func TestMain(m *testing.M) { golocktest.Main(m) }
