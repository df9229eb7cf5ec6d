// Package render turns golock's manual, markdown in go-md2man's dialect (a first-level
// heading per man section, definition lists for options and variables), into roff and
// into plain text for 80 columns. It runs at build time (go generate ./internal/manual),
// so that golock itself carries no markdown parser: blackfriday's package initialisation
// alone costs about 0.5 ms, on every run.
package render

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/russross/blackfriday/v2"
)

// Roff is the man page golock(1) in roff, rendered from the markdown src.
func Roff(src string) []byte {
	roff := md2man.Render([]byte(src))
	// go-md2man asks for no hyphenation (.nh), which groff's man macros undo at every
	// paragraph unless their register HY is 0.
	return bytes.Replace(roff, []byte(".nh\n"), []byte(".nh\n.nr HY 0\n"), 1)
}

// Text is the manual for a terminal, rendered from the markdown src: plain text in lines
// of at most width columns (code blocks excepted: they are kept as written). The title
// line, the man page's .TH, is left out.
func Text(src string, width int) string {
	root := blackfriday.New(blackfriday.WithExtensions(md2man.NewRoffRenderer().GetExtensions())).
		Parse([]byte(src))
	t := &text{width: width}
	for n := root.FirstChild; n != nil; n = n.Next {
		t.block(n, 0)
	}
	return strings.Trim(t.b.String(), "\n") + "\n"
}

// Indents of the text form: section bodies, subsections, definitions.
const (
	bodyIndent = 2
	defIndent  = 4 // beyond the term's
)

// text renders the markdown tree as plain text.
type text struct {
	b      strings.Builder
	width  int
	titled bool // the first heading, the man page's .TH line, was skipped
}

func (t *text) block(n *blackfriday.Node, indent int) {
	switch n.Type {
	case blackfriday.Heading:
		if !t.titled {
			t.titled = true
			return
		}
		t.gap()
		t.line(strings.Repeat(" ", min(1, n.Level-1)*bodyIndent) + inline(n))
	case blackfriday.Paragraph:
		t.fill(inline(n), indent+bodyIndent)
		t.b.WriteString("\n")
	case blackfriday.CodeBlock:
		for _, l := range strings.Split(strings.TrimRight(string(n.Literal), "\n"), "\n") {
			t.line(strings.Repeat(" ", indent+2*bodyIndent) + l)
		}
		t.b.WriteString("\n")
	case blackfriday.List:
		for item := n.FirstChild; item != nil; item = item.Next {
			t.item(item, indent)
		}
	}
}

// item renders a list item: a definition's term, its definition below it, or a bullet.
func (t *text) item(n *blackfriday.Node, indent int) {
	switch {
	case n.ListFlags&blackfriday.ListTypeTerm != 0:
		t.fill(inline(n), indent+bodyIndent)
	case n.ListFlags&blackfriday.ListTypeDefinition != 0:
		for c := n.FirstChild; c != nil; c = c.Next {
			t.block(c, indent+defIndent)
		}
	default: // a bullet list is not used in the source; its items read as paragraphs
		for c := n.FirstChild; c != nil; c = c.Next {
			t.block(c, indent)
		}
	}
}

// line writes one line as it is.
func (t *text) line(s string) {
	t.b.WriteString(strings.ReplaceAll(strings.TrimRight(s, " "), nbsp, " ") + "\n")
}

// gap ends the text so far with a blank line, unless it ends with one.
func (t *text) gap() {
	if !strings.HasSuffix(t.b.String(), "\n\n") {
		t.b.WriteString("\n")
	}
}

// nbsp stands for a space inside a code span while lines are filled: the span is never
// broken across lines.
const nbsp = "\x00"

// fill writes s in lines of at most t.width columns, each indented by indent spaces. A
// word longer than a line gets a line of its own.
func (t *text) fill(s string, indent int) {
	pad := strings.Repeat(" ", indent)
	cur, n := pad, indent
	for _, w := range strings.Fields(s) {
		wn := utf8.RuneCountInString(w)
		if n > indent && n+1+wn > t.width {
			t.line(cur)
			cur, n = pad, indent
		}
		if n > indent {
			cur, n = cur+" ", n+1
		}
		cur, n = cur+w, n+wn
	}
	if n > indent {
		t.line(cur)
	}
}

// inline is the plain text of n's inline content: code spans and emphasis lose their
// marks, line breaks become spaces.
func inline(n *blackfriday.Node) string {
	var b strings.Builder
	n.Walk(func(c *blackfriday.Node, entering bool) blackfriday.WalkStatus {
		if !entering {
			return blackfriday.GoToNext
		}
		switch c.Type {
		case blackfriday.Text:
			b.Write(c.Literal)
		case blackfriday.Code:
			b.WriteString(strings.ReplaceAll(string(c.Literal), " ", nbsp))
		case blackfriday.Softbreak, blackfriday.Hardbreak:
			b.WriteString(" ")
		}
		return blackfriday.GoToNext
	})
	return b.String()
}
