package supervisor

// UseShellWatchdog has Run start the /bin/sh watchdog, as where there is no native one.
func UseShellWatchdog() { useNative = false }

// UseNativeWatchdog undoes UseShellWatchdog.
func UseNativeWatchdog() { useNative = true }

// SetAfterStart has Run call f once a job's first process has started, before it is
// supervised; the returned function undoes it.
func SetAfterStart(f func(Job)) (undo func()) {
	old := afterStart
	afterStart = f
	return func() { afterStart = old }
}
