package release_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golock/golock/internal/golocktest"
)

// version is what the test releases: a Debian version with a tilde, so that the stamp
// reaches both the binary and the package's control file unchanged.
const version = "0.0.1~test"

// TestMain keeps the caller's CRONLOCK_* from the release script and the golock it runs.
func TestMain(m *testing.M) {
	golocktest.ClearEnv()
	os.Exit(m.Run())
}

// TestRelease builds a release for this machine's architecture twice, checks that the two
// are byte-identical, and checks the .deb as dpkg would unpack it into a scratch root:
// the stamped binaries (golock, golock-exporter), static and free of build paths and of
// the packager's code; their man pages, the docs and examples, the alert rules; the
// exporter's systemd unit, which systemd-analyze verify accepts; the control fields;
// nothing under /etc. It also installs and purges the package with dpkg in a scratch root
// over an operator's cronlock.conf: the install creates the group golock and the user
// golock-exporter, the purge leaves them. The release writes its own checksum file and
// leaves an earlier release's alone.
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("packaging test: builds and installs the .deb; skipped under -short, runs in the full suite (./tools/test)")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatalf("dpkg-deb (Debian's dpkg) is needed to check the package: %v", err)
	}
	arch := runtime.GOARCH
	if runtime.GOOS != "linux" || (arch != "amd64" && arch != "arm64") {
		t.Fatalf("tools/release builds linux/amd64 and linux/arm64; this is %s/%s", runtime.GOOS, arch)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}

	dists := []string{t.TempDir(), t.TempDir()}
	// An earlier release's checksum files, in the old name and the new, in the same dist/.
	earlier := map[string][]byte{"SHA256SUMS": []byte("0000  golock_0.0.0_amd64.deb\n"),
		"golock_0.0.0_SHA256SUMS": []byte("1111  golock_0.0.0_amd64.deb\n")}
	for name, b := range earlier {
		if err := os.WriteFile(filepath.Join(dists[0], name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, dist := range dists {
		start := time.Now()
		release(t, root, dist, arch, version)
		t.Logf("measured: release build %d for %s took %v", i+1, arch, time.Since(start).Round(time.Millisecond))
	}
	bin := "golock-" + version + "-linux-" + arch
	exporterBin := "golock-exporter-" + version + "-linux-" + arch
	deb := "golock_" + version + "_" + arch + ".deb"
	sums := "golock_" + version + "_SHA256SUMS"
	for _, name := range []string{bin, exporterBin, deb, sums} {
		a, b := read(t, dists[0], name), read(t, dists[1], name)
		if !bytes.Equal(a, b) {
			t.Errorf("two builds of the same commit differ in %s", name)
		}
	}
	checkSums(t, dists[0], sums, bin, exporterBin, deb)
	for name, b := range earlier {
		if got := read(t, dists[0], name); !bytes.Equal(got, b) {
			t.Errorf("the release rewrote an earlier release's %s", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dists[1], "SHA256SUMS")); err == nil {
		t.Errorf("the release wrote SHA256SUMS, which every release would share")
	}

	debPath := filepath.Join(dists[0], deb)
	fields := controlFields(t, debPath)
	for k, want := range map[string]string{"Package": "golock", "Version": version, "Architecture": arch} {
		if fields[k] != want {
			t.Errorf("control field %s = %q, want %q", k, fields[k], want)
		}
	}
	if !strings.Contains(fields["Suggests"], "redis-server") {
		t.Errorf("Suggests = %q, want redis-server there", fields["Suggests"])
	}
	for _, k := range []string{"Depends", "Pre-Depends", "Recommends"} {
		if strings.Contains(fields[k], "redis") {
			t.Errorf("%s = %q: redis-server must only be suggested", k, fields[k])
		}
	}
	control := t.TempDir()
	dpkgDeb(t, "-e", debPath, control)
	for _, script := range []string{"conffiles", "preinst"} {
		if _, err := os.Stat(filepath.Join(control, script)); err == nil {
			t.Errorf("the package has a %s: nothing under /etc, and nothing before unpacking", script)
		}
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(control, script)); err != nil {
			t.Errorf("the package has no %s (the golock group, the exporter's user and unit)", script)
		}
	}

	checkInstall(t, debPath)

	scratch := t.TempDir()
	dpkgDeb(t, "-x", debPath, scratch)
	checkTree(t, scratch)
	golock := filepath.Join(scratch, "usr/bin/golock")
	if !bytes.Equal(read(t, scratch, "usr/bin/golock"), read(t, dists[0], bin)) {
		t.Errorf("the package's /usr/bin/golock is not %s", bin)
	}
	checkBinary(t, golock, root)
	out, err := exec.Command(golock, "--version").Output()
	if first, _, _ := strings.Cut(string(out), "\n"); err != nil || !strings.HasPrefix(first+" ", "golock "+version+" ") {
		t.Errorf("golock --version: %q, %v; want a first line starting %q", out, err, "golock "+version)
	}
	checkManPage(t, filepath.Join(scratch, "usr/share/man/man1/golock.1.gz"))
	checkDocs(t, filepath.Join(scratch, "usr/share/doc/golock"), golock)

	exporter := filepath.Join(scratch, "usr/bin/golock-exporter")
	if !bytes.Equal(read(t, scratch, "usr/bin/golock-exporter"), read(t, dists[0], exporterBin)) {
		t.Errorf("the package's /usr/bin/golock-exporter is not %s", exporterBin)
	}
	checkBinary(t, exporter, root)
	out, err = exec.Command(exporter, "--version").Output()
	if err != nil || string(out) != "golock-exporter "+version+"\n" {
		t.Errorf("golock-exporter --version: %q, %v; want %q", out, err, "golock-exporter "+version)
	}
	checkManPage(t, filepath.Join(scratch, "usr/share/man/man1/golock-exporter.1.gz"))
	checkUnit(t, scratch)
	checkDocPaths(t, root, scratch)
}

// TestReleaseRefusesBadVersion: a version dpkg would not take, or a tag's "v", is refused
// before anything is built, naming VERSION.
func TestReleaseRefusesBadVersion(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v0.1.0", "0.1.0-1", "", "1 2"} {
		dist := t.TempDir()
		cmd := exec.Command(filepath.Join(root, "tools/release"), v)
		cmd.Env = append(os.Environ(), "GOLOCK_DIST="+dist)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "VERSION") {
			t.Errorf("tools/release %q: %v, %q; want a failure naming VERSION", v, err, out)
		}
		if entries, _ := os.ReadDir(dist); len(entries) > 0 {
			t.Errorf("tools/release %q wrote %d files", v, len(entries))
		}
	}
}

// release runs tools/release VERSION for arch alone, into dist.
func release(t *testing.T, root, dist, arch, version string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "tools/release"), version)
	cmd.Env = append(os.Environ(), "GOLOCK_ARCHES="+arch, "GOLOCK_DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tools/release %s: %v\n%s", version, err, out)
	}
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSums checks that the checksum file sums lists exactly names, with their hashes.
func checkSums(t *testing.T, dist, sums string, names ...string) {
	t.Helper()
	var want strings.Builder
	for _, name := range names {
		sum := sha256.Sum256(read(t, dist, name))
		want.WriteString(hex.EncodeToString(sum[:]) + "  " + name + "\n")
	}
	if got := string(read(t, dist, sums)); got != want.String() {
		t.Errorf("%s:\n%s\nwant:\n%s", sums, got, want.String())
	}
}

func dpkgDeb(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).Output()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// controlFields reads the package's control file, as dpkg-deb -f prints it.
func controlFields(t *testing.T, deb string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	for line := range strings.Lines(string(dpkgDeb(t, "-f", deb))) {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, " ") {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// checkInstall installs the package with dpkg into a scratch root with a dpkg database of
// its own (nothing on this machine changes), over an operator's /etc/cronlock.conf, then
// purges it, installs it again and purges it again: each step works, and the operator's
// file is never touched. The maintainer scripts run unchrooted with DPKG_ROOT set (dpkg
// --force-script-chrootless), as a bootstrap tool runs them: the postinst makes the group
// golock and the user golock-exporter in the scratch root's /etc, and the purge leaves them.
func checkInstall(t *testing.T, deb string) {
	t.Helper()
	dir := t.TempDir()
	root, admin := filepath.Join(dir, "root"), filepath.Join(dir, "admin")
	conf := filepath.Join(root, "etc/cronlock.conf")
	mine := []byte("CRONLOCK_HOST=redis.internal # the operator's\n")
	for _, d := range []string{filepath.Dir(conf), filepath.Join(admin, "updates"), filepath.Join(admin, "info")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range map[string]string{
		filepath.Join(admin, "status"):     "",
		conf:                               string(mine),
		filepath.Join(root, "etc/passwd"):  "root:x:0:0:root:/root:/bin/bash\n",
		filepath.Join(root, "etc/group"):   "root:x:0:\n",
		filepath.Join(root, "etc/shadow"):  "root:*:19000:0:99999:7:::\n",
		filepath.Join(root, "etc/gshadow"): "root:*::\n",
	} {
		if err := os.WriteFile(name, []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	dpkg := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("dpkg", append([]string{"--admindir=" + admin, "--instdir=" + root, "--log=/dev/null",
			"--force-script-chrootless"}, args...)...)
		// dpkg looks for ldconfig and start-stop-daemon in PATH before it acts; the
		// postinst for groupadd and useradd.
		cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for round := 1; round <= 2; round++ {
		dpkg("--install", deb)
		if status := dpkg("--status", "golock"); !strings.Contains(status, "Status: install ok installed") {
			t.Errorf("after dpkg --install, golock's status:\n%s", status)
		}
		for _, bin := range []string{"usr/bin/golock", "usr/bin/golock-exporter"} {
			if _, err := os.Stat(filepath.Join(root, bin)); err != nil {
				t.Errorf("dpkg --install put no /%s: %v", bin, err)
			}
		}
		checkAccounts(t, root, fmt.Sprintf("install %d", round))
		if got, _ := os.ReadFile(conf); !bytes.Equal(got, mine) {
			t.Errorf("installing golock changed /etc/cronlock.conf to %q", got)
		}
		dpkg("--purge", "golock")
		if _, err := os.Stat(filepath.Join(root, "usr/bin/golock")); err == nil {
			t.Errorf("dpkg --purge left /usr/bin/golock")
		}
		checkAccounts(t, root, fmt.Sprintf("purge %d", round))
		if got, _ := os.ReadFile(conf); !bytes.Equal(got, mine) {
			t.Errorf("purging golock changed /etc/cronlock.conf to %q", got)
		}
	}
}

// checkTree: the files the package must hold are there, and nothing is under /etc, so an
// operator's /etc/cronlock.conf is never replaced.
func checkTree(t *testing.T, scratch string) {
	t.Helper()
	for _, name := range []string{
		"usr/bin/golock",
		"usr/bin/golock-exporter",
		"usr/share/man/man1/golock.1.gz",
		"usr/share/man/man1/golock-exporter.1.gz",
		"usr/lib/systemd/system/golock-exporter.service",
		"usr/share/doc/golock/monitoring.md",
		"usr/share/doc/golock/examples/golock.rules.yml",
		"usr/share/doc/golock/examples/golock.rules.test.yml",
		"usr/share/doc/golock/README.md",
		"usr/share/doc/golock/CHANGELOG.md",
		"usr/share/doc/golock/copyright",
		"usr/share/doc/golock/examples/crontab",
		"usr/share/doc/golock/examples/cronlock.conf",
		"usr/share/doc/golock/examples/golock-report.service",
		"usr/share/doc/golock/examples/golock-report.timer",
	} {
		info, err := os.Stat(filepath.Join(scratch, name))
		if err != nil {
			t.Errorf("the package lacks /%s", name)
			continue
		}
		mode := fs.FileMode(0o644)
		if strings.HasPrefix(name, "usr/bin/") {
			mode = 0o755
		}
		if info.Mode().Perm() != mode {
			t.Errorf("/%s has mode %v, want %v", name, info.Mode().Perm(), mode)
		}
	}
	if _, err := os.Stat(filepath.Join(scratch, "etc")); err == nil {
		t.Errorf("the package installs files under /etc")
	}
}

// checkBinary: static, built with -trimpath and without cgo, no path of the build machine
// in it, and none of the packager's code.
func checkBinary(t *testing.T, path, root string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("golock is not static: it has a %v program header", p.Type)
		}
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" {
		t.Errorf("golock was built with -trimpath=%q CGO_ENABLED=%q, want true and 0",
			settings["-trimpath"], settings["CGO_ENABLED"])
	}
	if _, ok := settings["vcs.revision"]; ok {
		t.Errorf("golock carries a VCS stamp; a release says its version instead")
	}
	for _, dep := range info.Deps {
		if strings.Contains(dep.Path, "nfpm") || strings.Contains(dep.Path, "goreleaser") {
			t.Errorf("golock is built with the packager's module %s", dep.Path)
		}
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	for _, dir := range []string{root, runtime.GOROOT(), home} {
		if dir != "" && dir != "/" && bytes.Contains(bin, []byte(dir+"/")) {
			t.Errorf("golock holds the build machine's path %s", dir)
		}
	}
}

// checkManPage: a gzipped roff page, compressed without a name or a time (reproducible).
func checkManPage(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("golock.1.gz: %v", err)
	}
	page, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("golock.1.gz: %v", err)
	}
	if z.Name != "" || !z.ModTime.IsZero() {
		t.Errorf("golock.1.gz records name %q and time %v; a reproducible build records neither", z.Name, z.ModTime)
	}
	if !bytes.Contains(page, []byte("\n.TH ")) && !bytes.HasPrefix(page, []byte(".TH ")) {
		t.Errorf("golock.1.gz holds no roff page (.TH):\n%.300s", page)
	}
}

// checkDocs: the examples say what an operator needs, and the packaged golock takes the
// example cronlock.conf as it is.
func checkDocs(t *testing.T, doc, golock string) {
	t.Helper()
	contains := map[string][]string{
		"copyright":                      {"MIT License", "the golock authors", "== github.com/redis/go-redis/v9 ", "== Go standard library"},
		"examples/golock-report.service": {"SuccessExitStatus=200", "ExecStart=/usr/bin/golock "},
		"examples/golock-report.timer":   {"[Timer]", "OnCalendar=", "AccuracySec=1s"},
		"examples/crontab":               {" golock /"},
		"examples/cronlock.conf":         {"CRONLOCK_HOST="},
	}
	for name, wants := range contains {
		text := string(read(t, doc, name))
		for _, want := range wants {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
	cmd := exec.Command(golock, "--key", "true")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CRONLOCK_CONFIG=" + filepath.Join(doc, "examples/cronlock.conf")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 || !strings.HasPrefix(string(out), "cronlock.") {
		t.Errorf("golock --key with the example cronlock.conf: %v, stdout %q, stderr %q", err, out, stderr.String())
	}
}
