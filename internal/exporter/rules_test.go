package exporter

import (
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// rulesDir holds the alert rules the package ships, and their tests.
const rulesDir = "../../packaging/prometheus"

// TestRules checks the shipped alert rules with Prometheus's own promtool: their syntax
// (check rules) and what fires when (test rules, golock.rules.test.yml: a failed job, a job
// that never succeeded or not within its interval, a stuck run, an unsafe Redis, a blind
// exporter). promtool is Debian's prometheus package; the full suite fails without it.
func TestRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if testing.Short() {
			t.Skip("promtool not found; skipped under -short only: apt-get install prometheus")
		}
		t.Fatal("promtool not found in PATH: the alert rules are checked with it (apt-get install prometheus)")
	}
	for _, args := range [][]string{{"check", "rules", "golock.rules.yml"}, {"test", "rules", "golock.rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = rulesDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestRulesNameMetrics: every golock_* metric the rules and their tests name is one the
// exporter serves, so a renamed metric cannot leave an alert that never fires.
func TestRulesNameMetrics(t *testing.T) {
	served := map[string]bool{"golock_exporter_scrape_errors_total": true}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, d := range allDescs {
		served[fq.FindStringSubmatch(d.String())[1]] = true
	}
	for _, f := range []string{"golock.rules.yml", "golock.rules.test.yml"} {
		b, err := os.ReadFile(rulesDir + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range regexp.MustCompile(`\bgolock_[a-z_]+`).FindAllString(string(b), -1) {
			if !served[name] {
				t.Errorf("%s names %s, which the exporter does not serve", f, name)
			}
		}
	}
}

// TestScrapeTimeout: Prometheus's scrape timeout shortens a scrape to 90% of it, never
// below 0.1 s; a header that is huge, infinite, no number or not positive leaves the
// exporter's own timeout.
func TestScrapeTimeout(t *testing.T) {
	e := &Exporter{timeout: 10 * time.Second}
	for header, want := range map[string]time.Duration{
		"":      10 * time.Second,
		"5":     4500 * time.Millisecond,
		"0.05":  minTimeout,
		"11":    9900 * time.Millisecond,
		"12":    10 * time.Second,
		"1e300": 10 * time.Second,
		"+Inf":  10 * time.Second,
		"-Inf":  10 * time.Second,
		"NaN":   10 * time.Second,
		"0":     10 * time.Second,
		"-3":    10 * time.Second,
		"ten":   10 * time.Second,
		strconv.FormatFloat(math.MaxInt64/1e9+1, 'f', -1, 64): 10 * time.Second,
	} {
		if got := e.scrapeTimeout(header); got != want {
			t.Errorf("header %q: %v, want %v", header, got, want)
		}
	}
}

// TestLabelValue: a valid UTF-8 value is itself; otherwise each byte that is not UTF-8
// is \xNN and each backslash \\, and the result is valid UTF-8.
func TestLabelValue(t *testing.T) {
	for in, want := range map[string]string{
		"cronlock.café":          "cronlock.café",
		`a\b`:                    `a\b`,
		"cronlock.caf\xe9":       `cronlock.caf\xe9`,
		"caf\xe9 \\n \xff\xfe é": `caf\xe9 \\n \xff\xfe é`,
		"\xc3":                   `\xc3`,
	} {
		if got := labelValue(in); got != want {
			t.Errorf("labelValue(%q) = %q, want %q", in, got, want)
		}
	}
}
