package config

import "testing"

func TestPingURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://hc-ping.example/uuid": true, "http://127.0.0.1:8000/ping/x": true, "http://[::1]/x": true,
		"ftp://x/y": false, "hc-ping.example/uuid": false, "https:///uuid": false, "mailto:x@y": false,
		"https://h/x#frag": false, "%zz": false,
	} {
		if err := pingErr(raw); (err == nil) != ok {
			t.Errorf("pingErr(%q): %v, want ok=%v", raw, err, ok)
		}
	}
}
