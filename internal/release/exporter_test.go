package release_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// unit is where the package installs golock-exporter's systemd unit.
const unit = "/usr/lib/systemd/system/golock-exporter.service"

// checkAccounts: the root's /etc holds the system group golock once, and the user
// golock-exporter once, in that group, with no shell and no home; when says after what.
func checkAccounts(t *testing.T, root, when string) {
	t.Helper()
	entries := func(file, name string) [][]string {
		b, err := os.ReadFile(filepath.Join(root, "etc", file))
		if err != nil {
			t.Fatal(err)
		}
		var found [][]string
		for line := range strings.Lines(string(b)) {
			if f := strings.Split(strings.TrimSpace(line), ":"); f[0] == name {
				found = append(found, f)
			}
		}
		return found
	}
	groups, users := entries("group", "golock"), entries("passwd", "golock-exporter")
	if len(groups) != 1 || len(users) != 1 {
		t.Fatalf("after %s: %d group golock and %d user golock-exporter in /etc, want one each", when, len(groups), len(users))
	}
	gid, _ := strconv.Atoi(groups[0][2])
	if gid <= 0 || gid >= 1000 {
		t.Errorf("after %s: group golock has gid %s, want a system group's (below 1000)", when, groups[0][2])
	}
	u := users[0]
	if len(u) != 7 || u[3] != groups[0][2] || u[5] != "/nonexistent" || u[6] != "/usr/sbin/nologin" {
		t.Errorf("after %s: user golock-exporter is %q; want group golock (%s), home /nonexistent, shell /usr/sbin/nologin",
			when, strings.Join(u, ":"), groups[0][2])
	}
}

// checkUnit: the exporter's unit runs /usr/bin/golock-exporter as golock-exporter in the
// group golock, and systemd-analyze verify accepts it, and the example timer and service,
// in the unpacked package (the scratch root: the binaries and man pages they name are
// there). systemd-analyze is run when this machine has it (Debian's systemd package);
// without it only the checks of this test's own reading are made, and the log says so.
func checkUnit(t *testing.T, scratch string) {
	t.Helper()
	text := string(read(t, scratch, unit))
	for _, want := range []string{"\nExecStart=/usr/bin/golock-exporter ", "\nUser=golock-exporter\n", "\nGroup=golock\n",
		"\nWantedBy=multi-user.target\n", "\nNoNewPrivileges=yes\n", "\nProtectSystem=strict\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", unit, strings.TrimSpace(want))
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is not installed (tools/need-tools installs it): %s and the example units cannot be verified", unit)
	}
	local := filepath.Join(scratch, "etc/systemd/system")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ex := range []string{"golock-report.service", "golock-report.timer"} {
		if err := os.WriteFile(filepath.Join(local, ex), read(t, scratch, "usr/share/doc/golock/examples/"+ex), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(filepath.Join(scratch, "etc"))
	// --recursive-errors=no: the scratch root has no sysinit.target and the like for the
	// units' default dependencies. man looks for the pages Documentation= names in MANPATH.
	cmd := exec.Command(analyze, "verify", "--recursive-errors=no", "--root="+scratch, unit,
		"/etc/systemd/system/golock-report.service", "/etc/systemd/system/golock-report.timer")
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(scratch, "usr/share/man"))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify %s and the example units: %v\n%s", unit, err, out)
	}
}

// installed matches a path the package could install, as the docs name it.
var installed = regexp.MustCompile(`/usr/(?:bin/golock|lib/systemd/system/golock|share/man/man1/golock|share/doc/golock)[A-Za-z0-9._/-]*`)

// checkDocPaths: every path of the package that the README, the operations and monitoring
// docs and the exporter's man page name is one the package installs.
func checkDocPaths(t *testing.T, root, scratch string) {
	t.Helper()
	for _, doc := range []string{"README.md", "docs/operations.md", "docs/monitoring.md", "cmd/golock-exporter/golock-exporter.md"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range installed.FindAllString(string(b), -1) {
			p = strings.TrimRight(p, ".")
			if _, err := os.Stat(filepath.Join(scratch, p)); err != nil {
				t.Errorf("%s names %s, which the package does not install", doc, p)
			}
		}
	}
}
