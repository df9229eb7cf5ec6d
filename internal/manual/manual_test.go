package manual_test

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golock/golock/internal/config"
	"github.com/golock/golock/internal/manual"
	"github.com/golock/golock/internal/manual/render"
)

// TestGenerated fails when golock.1 or golock.txt is older than golock.md.
func TestGenerated(t *testing.T) {
	src, err := os.ReadFile("golock.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := render.Roff(string(src)); manual.Roff("{{version}}") != string(got) {
		t.Error("golock.1 is stale: run go generate ./internal/manual")
	}
	if got := render.Text(string(src), manual.Width); manual.Text() != got {
		t.Error("golock.txt is stale: run go generate ./internal/manual")
	}
}

// manSection is one .SH section of the man page: its .TP terms in order, with the text
// of each term's line, roff escapes removed.
type manSection struct {
	name  string
	terms []string
}

// parseRoff reads the man page as man would: the .TH line, then sections and their
// tagged paragraphs. Every request line must be one golock's page may use: a line that
// starts with "." or "'" and is not one is lost text (roff takes it for a request).
func parseRoff(t *testing.T, roff string) (th string, sections []manSection) {
	t.Helper()
	known := []string{".TH", ".SH", ".SS", ".PP", ".TP", ".EX", ".EE", ".RS", ".RE", ".IP", ".br", ".nh", ".nr"}
	lines := strings.Split(roff, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, ".") && !strings.HasPrefix(l, "'") {
			continue
		}
		req, arg, _ := strings.Cut(l, " ")
		if !slices.Contains(known, req) {
			t.Errorf("roff line %d %q: not a request the page uses (lost text?)", i+1, l)
		}
		switch {
		case req == ".TH":
			if th != "" || len(sections) > 0 {
				t.Errorf("roff line %d: .TH after the start", i+1)
			}
			th = arg
		case req == ".SH":
			sections = append(sections, manSection{name: strings.Trim(arg, `"`)})
		case req == ".TP" && len(sections) > 0 && i+1 < len(lines):
			s := &sections[len(sections)-1]
			s.terms = append(s.terms, unroff(lines[i+1]))
		}
	}
	return th, sections
}

// unroff removes the font escapes and \- from a line of roff.
func unroff(s string) string {
	return strings.NewReplacer(`\fB`, "", `\fI`, "", `\fR`, "", `\fP`, "", `\-`, "-", `\&`, "").Replace(s)
}

var term = regexp.MustCompile(`^(CRONLOCK_[A-Z_]+)(?:, (CRONLOCK_[A-Z_]+))*(?: \(default (.+)\))?$`)

// variables reads the variables the terms name, and their defaults ("" for none).
func variables(t *testing.T, terms []string) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, tm := range terms {
		if !strings.HasPrefix(tm, "CRONLOCK_") {
			continue
		}
		m := term.FindStringSubmatch(tm)
		if m == nil {
			t.Errorf("term %q: want CRONLOCK_NAME[, CRONLOCK_NAME] [(default VALUE)]", tm)
			continue
		}
		for _, name := range regexp.MustCompile(`CRONLOCK_[A-Z_]+`).FindAllString(tm, -1) {
			if _, dup := vars[name]; dup {
				t.Errorf("%s described twice", name)
			}
			vars[name] = m[3]
		}
	}
	return vars
}

// configDefaults is config.Config's envDefault of each variable that has one.
func configDefaults() map[string]string {
	defaults := map[string]string{}
	ct := reflect.TypeFor[config.Config]()
	for i := range ct.NumField() {
		if d, ok := ct.Field(i).Tag.Lookup("envDefault"); ok {
			defaults[ct.Field(i).Tag.Get("env")] = d
		}
	}
	return defaults
}

// checkVariables compares the variables a manual describes with config's table: every
// variable golock knows, each with config's default.
func checkVariables(t *testing.T, where string, vars map[string]string) {
	t.Helper()
	known := config.Known()
	for _, name := range known {
		if _, ok := vars[name]; !ok {
			t.Errorf("%s: %s (known to config) is not described", where, name)
		}
	}
	for name := range vars {
		if !slices.Contains(known, name) {
			t.Errorf("%s: %s is described but config does not know it", where, name)
		}
	}
	for name, d := range configDefaults() {
		if got := vars[name]; got != d {
			t.Errorf("%s: %s has default %q, config's is %q", where, name, got, d)
		}
	}
}

var exitCodes = []string{"0-199", "200", "201", "202"}

func TestManPage(t *testing.T) {
	th, sections := parseRoff(t, manual.Roff("1.2.3"))
	if want := `golock 1 "" "golock 1.2.3" "User Commands"`; th != want {
		t.Errorf(".TH %s, want %s", th, want)
	}
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	if want := []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "FILES", "EXIT STATUS",
		"EXAMPLES", "SEE ALSO"}; !slices.Equal(names, want) {
		t.Errorf("sections %q, want %q", names, want)
	}
	byName := map[string]manSection{}
	for _, s := range sections {
		byName[s.name] = s
	}
	checkVariables(t, "man page", variables(t, byName["ENVIRONMENT"].terms))
	if got := byName["EXIT STATUS"].terms; !slices.Equal(got, exitCodes) {
		t.Errorf("EXIT STATUS terms %q, want %q", got, exitCodes)
	}
	var opts []string
	for _, tm := range byName["OPTIONS"].terms {
		opts = append(opts, strings.Fields(strings.ReplaceAll(tm, ",", ""))...)
	}
	for _, o := range []string{"--key", "--status", "--list", "--json", "--name", "--doctor", "--help", "-h", "--man",
		"--version", "--"} {
		if !slices.Contains(opts, o) {
			t.Errorf("OPTIONS does not describe %s (terms %q)", o, byName["OPTIONS"].terms)
		}
	}
	if !strings.Contains(manual.Roff("x"), `NAME
golock \- run a command`) {
		t.Error("NAME is not in the form whatis(1) reads: golock \\- what it does")
	}
}

func TestHelpText(t *testing.T) {
	text := manual.Text()
	var terms []string
	for i, l := range strings.Split(text, "\n") {
		if n := utf8.RuneCountInString(l); n > manual.Width {
			t.Errorf("help line %d is %d columns: %q", i+1, n, l)
		}
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   ") { // a term, or a paragraph's line
			terms = append(terms, strings.TrimSpace(l))
		}
	}
	vars := variables(t, slices.DeleteFunc(slices.Clone(terms), func(s string) bool { return !term.MatchString(s) }))
	checkVariables(t, "--help", vars)
	for _, code := range exitCodes {
		if !slices.Contains(terms, code) {
			t.Errorf("--help does not list exit code %s", code)
		}
	}
	for _, want := range []string{"SYNOPSIS", "ENVIRONMENT", "EXIT STATUS", "EXAMPLES", "* * * * *", "/usr/local/bin/golock"} {
		if !strings.Contains(text, want) {
			t.Errorf("--help does not hold %q", want)
		}
	}
}

// TestREADMEVariables compares the README's tables of variables (those headed
// "| variable | default | meaning |") with the manual, both ways, and their defaults with
// config's.
func TestREADMEVariables(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	inReadme := map[string]bool{}
	defaults := configDefaults()
	tables := 0
	inTable := false
	name := regexp.MustCompile(`CRONLOCK_[A-Z_]+`)
	for _, l := range strings.Split(string(readme), "\n") {
		switch {
		case l == "| variable | default | meaning |":
			inTable = true
			tables++
			continue
		case !strings.HasPrefix(l, "|"):
			inTable = false
		}
		if !inTable || strings.HasPrefix(l, "|---") {
			continue
		}
		cells := strings.Split(l, "|")
		names := name.FindAllString(cells[1], -1)
		if len(names) == 0 {
			t.Errorf("README table row %q names no variable", l)
		}
		for _, n := range names {
			inReadme[n] = true
		}
		if d, ok := defaults[names[0]]; ok && len(names) == 1 {
			if got := strings.Trim(strings.TrimSpace(cells[2]), "`"); got != d {
				t.Errorf("README: %s has default %q, config's is %q", names[0], got, d)
			}
		}
	}
	if tables < 1 {
		t.Fatal("README has no table of variables")
	}
	_, sections := parseRoff(t, manual.Roff("x"))
	var inManual map[string]string
	for _, s := range sections {
		if s.name == "ENVIRONMENT" {
			inManual = variables(t, s.terms)
		}
	}
	for n := range inReadme {
		if _, ok := inManual[n]; !ok {
			t.Errorf("README lists %s; the manual does not", n)
		}
	}
	// The README names the settings people set most and links to the manual for the rest:
	// a new setting need not touch it.
	t.Logf("measured: %d variables in the manual, %d in the README's %d tables", len(inManual), len(inReadme), tables)
}

func TestUsageIsTheSynopsis(t *testing.T) {
	u := manual.Usage()
	if !strings.HasPrefix(u, "usage: golock [--] COMMAND [ARG...]\n") || !strings.Contains(u, "\n       golock --doctor | --help | --man | --version\n") {
		t.Errorf("Usage() = %q, want the manual's SYNOPSIS", u)
	}
}

func TestHelpIsOneScreen(t *testing.T) {
	h := manual.Help()
	lines := strings.Split(strings.TrimSuffix(h, "\n"), "\n")
	if len(lines) > 80 {
		t.Errorf("--help is %d lines, want at most 80", len(lines))
	}
	for _, l := range lines {
		if len(l) > manual.Width {
			t.Errorf("--help line of %d columns: %q", len(l), l)
		}
	}
	for _, want := range []string{"CRONLOCK_HOST (default localhost)\n      Redis host", "CRONLOCK_TIMEOUT (default 0)\n      Kill",
		"CRONLOCK_CONFIG\n      The config file", "  200\n      The lock is held elsewhere", "golock --man"} {
		if !strings.Contains(h, want) {
			t.Errorf("--help lacks %q:\n%s", want, h)
		}
	}
}

// TestREADMEUsage checks that each form of the README's Usage block takes the same
// optional flags as the manual's SYNOPSIS form of the same mode (the README shortens the
// arguments, not the flags).
func TestREADMEUsage(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "\n## Usage\n\n")
	if !ok {
		t.Fatal("README has no Usage section")
	}
	block, _, _ = strings.Cut(block, "\n\n")
	synopsis := strings.Split(strings.TrimSpace(manual.Usage()), "\n")
	mode := regexp.MustCompile(`golock (--[a-z-]+)`)
	flags := regexp.MustCompile(`\[(--[a-z-]+)`)
	compared := 0
	for _, l := range strings.Split(block, "\n") {
		form, _, _ := strings.Cut(strings.TrimSpace(l), "   ") // the form, without its description
		m := mode.FindStringSubmatch(form)
		if m == nil {
			continue // golock [--] COMMAND, CRONLOCK_RESET=yes golock COMMAND...
		}
		want := fmt.Sprint(flags.FindAllStringSubmatch(form, -1))
		found := false
		for _, s := range synopsis {
			if sm := mode.FindStringSubmatch(s); sm != nil && sm[1] == m[1] {
				found = true
				if got := fmt.Sprint(flags.FindAllStringSubmatch(s, -1)); got != want {
					t.Errorf("README's %q and the manual's %q take different flags", form, strings.TrimSpace(s))
				}
			}
		}
		if !found && !strings.Contains(manual.Usage(), m[1]) {
			t.Errorf("README's %q: the manual's SYNOPSIS has no %s", form, m[1])
		}
		compared++
	}
	if compared < 6 {
		t.Errorf("compared %d of the README's usage forms, want every golock --MODE form", compared)
	}
}
