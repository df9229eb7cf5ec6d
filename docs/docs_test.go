package docs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// root is the repository's root, seen from this package's directory.
const root = ".."

// maxREADMELines is how long the front door may be.
const maxREADMELines = 250

// markdownFiles returns README.md and every docs/*.md, relative to root.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	sort.Strings(files[1:])
	return files
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// prose returns the lines of a Markdown text outside code blocks, with inline code spans
// blanked out, so that neither is taken for a link.
func prose(text string) []string {
	out := outsideCode(text)
	for i, l := range out {
		out[i] = codeSpan.ReplaceAllString(l, "``")
	}
	return out
}

// outsideCode returns the lines of a Markdown text with those of code blocks (fenced, or
// indented four spaces) blanked out, so that none is taken for a heading or a link.
func outsideCode(text string) []string {
	var out []string
	fenced := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			out = append(out, "")
			continue
		}
		if fenced || strings.HasPrefix(l, "    ") && !strings.HasPrefix(strings.TrimSpace(l), "-") {
			out = append(out, "")
			continue
		}
		out = append(out, l)
	}
	return out
}

var (
	codeSpan = regexp.MustCompile("`[^`]*`")
	// inlineLink matches [text](target) and ![alt](target); the target is group 1.
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// refLink matches a reference definition: [label]: target.
	refLink = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	heading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	scheme  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// anchors returns the anchors GitHub makes for the headings of a Markdown text.
func anchors(text string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, l := range outsideCode(text) {
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		a := slug(m[1])
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// slug is GitHub's anchor for a heading: lower case, punctuation dropped, spaces as "-".
func slug(h string) string {
	h = strings.ReplaceAll(h, "`", "")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestLinks checks that every relative link in README.md and docs/*.md names a file or
// directory that exists, and that every #anchor names a heading of its Markdown file.
func TestLinks(t *testing.T) {
	checked := 0
	for _, name := range markdownFiles(t) {
		text := read(t, name)
		for i, l := range prose(text) {
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(l, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(l); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if scheme.MatchString(target) {
					continue // http:, https:, mailto:: not ours to check offline
				}
				checked++
				where := name + ":" + strconv.Itoa(i+1)
				path, anchor, _ := strings.Cut(target, "#")
				file := name
				if path != "" {
					if filepath.IsAbs(path) {
						t.Errorf("%s: link %q is absolute; make it relative to %s", where, target, filepath.Dir(name))
						continue
					}
					file = filepath.Join(filepath.Dir(name), path)
					if _, err := os.Stat(filepath.Join(root, file)); err != nil {
						t.Errorf("%s: link %q: %s does not exist", where, target, file)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				if !strings.HasSuffix(file, ".md") {
					t.Errorf("%s: link %q: an anchor into %s, which is not Markdown", where, target, file)
					continue
				}
				if !anchors(read(t, file))[anchor] {
					t.Errorf("%s: link %q: %s has no heading with anchor #%s", where, target, file, anchor)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no relative link at all: the link parser is broken")
	}
	t.Logf("checked %d relative links", checked)
}

// TestREADMELength keeps the front door short: the rest belongs in docs/.
func TestREADMELength(t *testing.T) {
	n := strings.Count(read(t, "README.md"), "\n")
	if n > maxREADMELines {
		t.Errorf("README.md has %d lines; at most %d: move the detail into docs/", n, maxREADMELines)
	}
	t.Logf("README.md: %d lines", n)
}

// quickStart returns the lines of the first ```sh block under the README's "Quick start"
// heading.
func quickStart(t *testing.T) string {
	t.Helper()
	lines := strings.Split(read(t, "README.md"), "\n")
	in, fenced := false, false
	var block []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "## "):
			if in {
				t.Fatal(`README.md: no ` + "```sh" + ` block under "## Quick start"`)
			}
			in = strings.TrimSpace(l) == "## Quick start"
		case in && !fenced && strings.TrimSpace(l) == "```sh":
			fenced = true
		case fenced && strings.TrimSpace(l) == "```":
			if len(block) == 0 {
				t.Fatal("README.md: the quick start's block is empty")
			}
			return strings.Join(block, "\n") + "\n"
		case fenced:
			block = append(block, l)
		}
	}
	t.Fatal(`README.md: no "## Quick start" heading with a ` + "```sh" + ` block under it`)
	return ""
}

// TestQuickStart runs the README's quick start with bash from the repository's root, as a
// newcomer would, and checks what the README says it shows. tools/demo needs redis-server
// and redis-cli: without them this test fails; it is never skipped.
func TestQuickStart(t *testing.T) {
	script := quickStart(t)
	for _, tool := range []string{"bash", "go", "redis-server", "redis-cli"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's quick start needs %s in PATH, and it is not there: "+
				"install it (./tools/need-redis installs redis-server and redis-cli on Debian)", tool)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = root
	// The caller's CRONLOCK_* settings are not the newcomer's.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CRONLOCK_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("ran the quick start in %v:\n%s", time.Since(start).Round(time.Millisecond), script)
	if err != nil {
		hint := ""
		if _, serr := os.Stat("/etc/cronlock.conf"); serr == nil {
			hint = "\n(this machine has /etc/cronlock.conf; golock reads it when CRONLOCK_CONFIG is empty, " +
				"and its assignments win over the environment)"
		}
		t.Fatalf("the README's quick start failed: %v; its output:\n%s%s", err, out.String(), hint)
	}
	for _, want := range []string{"second run: exit 200", "first run: exit 0", "redis-cli HGETALL", "golock --status", "golock --list"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the quick start's output lacks %q, which the README promises; its output:\n%s", want, out.String())
		}
	}
}

// variable matches the name of a golock setting.
var variable = regexp.MustCompile(`\bCRONLOCK_[A-Z0-9_]*[A-Z0-9]\b`)

// TestVariablesInManual checks that every CRONLOCK_ variable that README.md or docs/*.md
// names is one the manual describes: the documents must not invent settings.
func TestVariablesInManual(t *testing.T) {
	manual := read(t, filepath.Join("internal", "manual", "golock.md"))
	known := map[string]bool{}
	for _, v := range variable.FindAllString(manual, -1) {
		known[v] = true
	}
	if len(known) < 40 {
		t.Fatalf("found only %d variables in the manual: has it moved?", len(known))
	}
	for _, name := range markdownFiles(t) {
		for i, l := range strings.Split(read(t, name), "\n") {
			for _, v := range variable.FindAllString(l, -1) {
				if !known[v] {
					t.Errorf("%s:%d names %s, which the manual does not describe", name, i+1, v)
				}
			}
		}
	}
}
