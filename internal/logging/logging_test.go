package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "text", false).With("lock", "cronlock.x")
	log.Debug("hidden unless verbose")
	log.Info("renewed")
	log.Warn("cannot renew\nthe lock", "err", "dial tcp: refused")
	log.Error("failed", "empty", "")
	want := "golock: renewed lock=cronlock.x\n" +
		"golock: warning: cannot renew\\nthe lock lock=cronlock.x err=\"dial tcp: refused\"\n" +
		"golock: failed lock=cronlock.x empty=\"\"\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}

	buf.Reset()
	New(&buf, "text", true).Debug("shown")
	if buf.String() != "golock: debug: shown\n" {
		t.Errorf("verbose debug line: %q", buf.String())
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "json", false).Warn("cannot renew", "lock", "cronlock.x")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["msg"] != "cannot renew" ||
		line["level"] != "WARN" || line["lock"] != "cronlock.x" || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("JSON line %q (%v)", buf.String(), err)
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "sh -c 'a\nb'": `"sh -c 'a\nb'"`, "tab\there": `"tab\there"`, `say "hi"` + "\r": `"say \"hi\"\r"`,
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
