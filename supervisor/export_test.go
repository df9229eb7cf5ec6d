package supervisor

// UseShellWatchdog has Run start the /bin/sh watchdog, as where there is no native one.
func UseShellWatchdog() { useNative = false }

// UseNativeWatchdog undoes UseShellWatchdog.
func UseNativeWatchdog() { useNative = true }
