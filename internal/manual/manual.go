// Package manual is golock's manual: golock.md, one markdown source for the man page
// golock(1) that --man prints (golock.1, rendered at build time by go generate, see
// ./render, and embedded; a test fails when it is stale), the one-screen summary --help
// prints (Help), and the usage line (Usage), both cut from the same source at run time.
// golock.txt, the whole manual as plain text, is rendered for the tests of the renderer.
package manual

import (
	_ "embed"
	"strings"
)

//go:generate go run ./mkmanual

// Width is the width of the lines of Text.
const Width = 80

// versionMark stands for golock's version in the source's title line.
const versionMark = "{{version}}"

var (
	//go:embed golock.txt
	text string
	//go:embed golock.1
	roff string
)

// Text is the manual for a terminal, in lines of at most Width columns.
func Text() string { return text }

// Roff is the man page golock(1) in roff, its title naming version.
func Roff(version string) string {
	return strings.Replace(roff, versionMark, version, 1)
}

//go:embed golock.md
var source string

// Usage is the synopsis golock prints when it is given nothing to do, or a wrong option:
// the manual's SYNOPSIS, each line after the first starting "       ".
func Usage() string {
	_, rest, _ := strings.Cut(source, "\n# SYNOPSIS\n")
	body, _, _ := strings.Cut(rest, "\n#")
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(body), "\n") {
		prefix := "usage: "
		if i > 0 {
			prefix = "       "
		}
		b.WriteString(prefix + strings.TrimSpace(line) + "\n")
	}
	return b.String()
}

// common are the settings --help shows: those people set most.
var common = []string{"CRONLOCK_HOST", "CRONLOCK_PORT", "CRONLOCK_AUTH", "CRONLOCK_URL", "CRONLOCK_KEY",
	"CRONLOCK_GRACE", "CRONLOCK_TIMEOUT", "CRONLOCK_WAIT", "CRONLOCK_CONFIG", "CRONLOCK_VERBOSE"}

// Help is what --help prints: one screen made from the manual's own words: the synopsis,
// the settings people set most (the first sentence of each), the exit codes, and where the
// whole manual is.
func Help() string {
	var b strings.Builder
	b.WriteString(Usage())
	b.WriteString("\nRuns COMMAND under a lock in Redis named after it: once across the servers that\n" +
		"share the lock, never on top of itself. Held elsewhere: exit 200, nothing runs.\n")
	b.WriteString("\nThe settings people set most (environment or config file; the manual has all):\n")
	for _, name := range common {
		term, def := definition(source, "`"+name+"`")
		b.WriteString(wrap("  "+strings.ReplaceAll(term, "`", ""), "      ", firstSentence(def)))
	}
	b.WriteString("\nExit status:\n")
	_, exits, _ := strings.Cut(source, "\n# EXIT STATUS\n")
	exits, _, _ = strings.Cut(exits, "\n# ")
	for _, block := range strings.Split(strings.TrimSpace(exits), "\n\n") {
		term, def, _ := strings.Cut(block, "\n: ")
		b.WriteString(wrap("  "+strings.ReplaceAll(term, "`", ""), "      ", firstSentence(def)))
	}
	b.WriteString("\nThe whole manual: golock --man, or man golock.\n")
	return b.String()
}

// definition finds the definition-list entry whose term starts with term: its term line
// and its description, joined on one line.
func definition(src, term string) (string, string) {
	_, rest, _ := strings.Cut(src, "\n"+term)
	block, _, _ := strings.Cut(rest, "\n\n")
	head, def, _ := strings.Cut(block, "\n: ")
	return term + head, strings.Join(strings.Fields(def), " ")
}

// firstSentence is s up to its first full stop that ends a sentence.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// wrap is term on a line of its own, then text at indent in lines of at most Width.
func wrap(term, indent, text string) string {
	var b strings.Builder
	b.WriteString(term + "\n")
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line)+len(w)+1 > Width && line != indent {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}
