package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// A cronlock config file is a bash script that cronlock sources, so golock reads it with a
// real shell parser (mvdan.cc/sh) and expands values with the same library, as bash would:
// quoting, escapes and the ${NAME:-default} forms follow bash's rules exactly, and anything
// a script could do that golock cannot evaluate is found in the syntax tree and refused.

// FileError is a line of a config file that golock cannot read as bash would. Var is the
// variable it assigns, or "" when the line is no assignment. It never holds a value.
type FileError struct {
	Line int
	Var  string
	Msg  string
}

func (e *FileError) Error() string {
	if e.Var == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Var, e.Msg)
}

// bashComputed are variables bash sets by itself, which golock cannot know as the bash
// running cronlock would (HOSTNAME it can: see shellEnv).
var bashComputed = []string{"_", "RANDOM", "SRANDOM", "SECONDS", "LINENO", "EPOCHSECONDS",
	"EPOCHREALTIME", "BASHPID", "PPID", "UID", "EUID", "PWD", "OLDPWD", "GROUPS", "HOSTTYPE",
	"OSTYPE", "MACHTYPE", "SHLVL", "BASH", "BASHOPTS", "SHELLOPTS", "DIRSTACK", "FUNCNAME",
	"PIPESTATUS", "HISTCMD", "COLUMNS", "LINES"}

// Sourced is what sourcing a config file leaves behind in the shell.
type Sourced struct {
	// Vars is every variable the file assigns, with the value it ends with.
	Vars map[string]string
	// Exported names the variables the file marks for export (export NAME, or an assignment
	// between set -a and set +a); bash passes those to the commands it runs, and those of
	// the environment it was sourced in, with the value the file left.
	Exported map[string]bool
}

// ParseFile reads r as Source does, and returns what the file assigns.
func ParseFile(r io.Reader, environ map[string]string) (map[string]string, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s, err := Source(src, environ)
	if err != nil {
		return nil, err
	}
	return s.Vars, nil
}

// Source reads a cronlock config file as bash would source it, and returns what it
// assigns and exports. It holds NAME=value assignments (several on a line, "export" before
// them, "export NAME" alone, set -a and set +a), comments and blank lines. Values are
// expanded as bash does: quotes, escapes, ~ (at the start and after each colon), $NAME,
// ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:+alt} and ${NAME+alt}, from environ
// and from earlier assignments (never inside single quotes). Bytes that are not UTF-8 are
// read as bash reads them, and kept in the values. Anything else bash would run or compute
// (a command, command substitution, backticks, arithmetic, other ${...} operations, $1, $$,
// $_, $RANDOM, ~+...) is a *FileError naming the line, the variable and the construct, never
// the value.
func Source(src []byte, environ map[string]string) (*Sourced, error) {
	src = bytes.TrimPrefix(src, []byte("\ufeff")) // a byte order mark, from some editors
	src, err := dropNULs(src)
	if err != nil {
		return nil, err
	}
	if i := bytes.Index(src, []byte("\r\n")); i >= 0 {
		return nil, &FileError{Line: 1 + bytes.Count(src[:i], []byte("\n")),
			Msg: "ends with CR LF: bash would keep the CR in the value; convert the file with dos2unix"}
	}
	if len(bytes.Trim(src, " \t\n")) == 0 { // nothing to parse: the parser's start costs every run
		return &Sourced{Vars: map[string]string{}, Exported: map[string]bool{}}, nil
	}
	src = []byte(toRunes(string(src)))
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(src), "")
	if err != nil {
		var perr syntax.ParseError
		if errors.As(err, &perr) {
			line := int(perr.Pos.Line())
			return nil, &FileError{Line: line, Var: assigned(src, line), Msg: perr.Text}
		}
		return nil, err
	}
	sh := &shellEnv{environ: environ, set: map[string]string{}, exported: map[string]bool{}}
	for _, stmt := range file.Stmts {
		if err := sh.statement(stmt); err != nil {
			return nil, err
		}
	}
	if sh.allexport > 0 {
		return nil, &FileError{Line: sh.allexport, Msg: "set -a is still on at the end of the file: bash would then " +
			"export cronlock's own variables to the job too; end the file with set +a"}
	}
	return &Sourced{Vars: sh.set, Exported: sh.exported}, nil
}

var assignRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\+?=`) })

// assigned is the variable that line n of src starts to assign, or "".
func assigned(src []byte, n int) string {
	lines := bytes.Split(src, []byte("\n"))
	if n < 1 || n > len(lines) {
		return ""
	}
	if m := assignRE().FindSubmatch(lines[n-1]); m != nil {
		return string(m[1])
	}
	return ""
}

// shellEnv is the environment as the sourced file sees it: environ, then what the file set.
// Values are bytes, as bash holds them; the expander sees them through toRunes.
type shellEnv struct {
	environ   map[string]string
	set       map[string]string
	exported  map[string]bool // marked for export by the file
	allexport int             // the line of the set -a in effect, or 0
}

func (sh *shellEnv) statement(stmt *syntax.Stmt) error {
	line := int(stmt.Pos().Line())
	if stmt.Negated || stmt.Background || stmt.Coprocess || stmt.Disown || len(stmt.Redirs) > 0 {
		return &FileError{Line: line, Msg: "golock reads only NAME=value assignments, without redirections, ! or &"}
	}
	switch cmd := stmt.Cmd.(type) {
	case *syntax.CallExpr:
		if len(cmd.Args) == 0 {
			return sh.assign(line, cmd.Assigns)
		}
		if on, ok := setAllexport(cmd); ok {
			sh.allexport = 0
			if on {
				sh.allexport = line
			}
			return nil
		}
		name := ""
		if len(cmd.Assigns) > 0 {
			name = cmd.Assigns[0].Name.Value
		}
		return &FileError{Line: line, Var: name,
			Msg: "runs a command, which golock cannot do (a value with spaces must be quoted; no spaces around =)"}
	case *syntax.DeclClause:
		if cmd.Variant.Value != "export" {
			return &FileError{Line: line, Msg: fmt.Sprintf("%q is not supported: write NAME=value or export NAME=value", cmd.Variant.Value)}
		}
		for _, a := range cmd.Args {
			if a.Naked && a.Name == nil {
				return &FileError{Line: line, Msg: "export takes no options or expansions in a config file golock reads"}
			}
		}
		for _, a := range cmd.Args {
			if !a.Naked {
				if err := sh.assign(line, []*syntax.Assign{a}); err != nil {
					return err
				}
			}
			sh.exported[a.Name.Value] = true
		}
		return nil
	}
	return &FileError{Line: line, Msg: "golock reads only NAME=value assignments, not shell commands such as if, for or functions"}
}

func (sh *shellEnv) assign(line int, assigns []*syntax.Assign) error {
	for _, a := range assigns {
		name := a.Name.Value
		if !validName(name) { // the parser takes 0=[ for an assignment; bash, for a command
			return &FileError{Line: line, Msg: "runs a command, which golock cannot do (" + name + " is no variable name)"}
		}
		if a.Index != nil || a.Array != nil {
			return &FileError{Line: line, Var: name, Msg: "arrays are not supported"}
		}
		value := ""
		if a.Value != nil {
			bad := evaluable(a.Value)
			word := a.Value
			if bad == "" {
				word, bad = sh.tildes(a.Value)
			}
			if bad != "" {
				return &FileError{Line: line, Var: name, Msg: bad + " cannot be evaluated by golock: write the value itself"}
			}
			expanded, err := expand.Literal(&expand.Config{Env: sh}, unescaped(word))
			if err != nil { // unreachable after evaluable; never show the value
				return &FileError{Line: line, Var: name, Msg: "cannot be expanded as bash would"}
			}
			value = toBytes(expanded)
		}
		if a.Append {
			value = sh.lookup(name) + value
		}
		sh.set[name] = value
		if sh.allexport > 0 {
			sh.exported[name] = true
		}
	}
	return nil
}

// evaluable names the first construct of word that golock cannot evaluate as bash would,
// or is "" when there is none.
func evaluable(word *syntax.Word) string {
	bad := ""
	syntax.Walk(word, func(node syntax.Node) bool {
		if bad != "" {
			return false
		}
		switch n := node.(type) {
		case *syntax.CmdSubst:
			bad = "command substitution $(...)"
			if n.Backquotes {
				bad = "command substitution `...` (backticks)"
			}
		case *syntax.ArithmExp:
			bad = "arithmetic $((...))"
		case *syntax.ProcSubst:
			bad = "process substitution"
		case *syntax.ExtGlob:
			bad = "an extended glob"
		case *syntax.SglQuoted:
			if n.Dollar && unicodeEscape(n.Value) {
				bad = `$'\u...' (bash writes it as the locale says)`
			}
		case *syntax.ParamExp:
			if bad = paramProblem(n); bad == "" && n.Exp != nil && n.Exp.Word != nil {
				bad = evaluable(n.Exp.Word) // ${NAME:-word}: the word may hold constructs too
			}
			return false
		}
		return true
	})
	return bad
}

// unicodeEscape says the body of a $'...' holds a \u or \U escape.
func unicodeEscape(body string) bool {
	for i := 0; i < len(body)-1; i++ {
		if body[i] == '\\' {
			if body[i+1] == 'u' || body[i+1] == 'U' {
				return true
			}
			i++
		}
	}
	return false
}

// setAllexport reads set -a (on) and set +a (off), also written set -o allexport and
// set +o allexport; ok is false for any other command.
func setAllexport(cmd *syntax.CallExpr) (on, ok bool) {
	if len(cmd.Assigns) > 0 || len(cmd.Args) < 2 || len(cmd.Args) > 3 || cmd.Args[0].Lit() != "set" {
		return false, false
	}
	flag := cmd.Args[1].Lit()
	if len(cmd.Args) == 3 {
		if cmd.Args[2].Lit() != "allexport" || (flag != "-o" && flag != "+o") {
			return false, false
		}
		return flag == "-o", true
	}
	if flag != "-a" && flag != "+a" {
		return false, false
	}
	return flag == "-a", true
}

// unescaped is word with bash's quote removal done on its unquoted backslashes (a\ b is
// "a b"), which expand.Literal leaves in place: each escaped character becomes a quoted one.
// Words inside double quotes keep their backslashes, as in bash.
func unescaped(word *syntax.Word) *syntax.Word {
	out := &syntax.Word{}
	for _, part := range word.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			s := p.Value
			for {
				i := strings.IndexByte(s, '\\')
				if i < 0 || i == len(s)-1 { // a trailing backslash stays, as in bash
					break
				}
				_, size := utf8.DecodeRuneInString(s[i+1:])
				out.Parts = append(out.Parts, &syntax.Lit{Value: s[:i]}, &syntax.SglQuoted{Value: s[i+1 : i+1+size]})
				s = s[i+1+size:]
			}
			out.Parts = append(out.Parts, &syntax.Lit{Value: s})
		case *syntax.ParamExp:
			if p.Exp != nil && p.Exp.Word != nil {
				q := *p
				q.Exp = &syntax.Expansion{Op: p.Exp.Op, Word: unescaped(p.Exp.Word)}
				part = &q
			}
			out.Parts = append(out.Parts, part)
		default:
			out.Parts = append(out.Parts, part)
		}
	}
	return out
}

// paramProblem names what golock cannot evaluate in a ${...} or $NAME, or is "".
func paramProblem(p *syntax.ParamExp) string {
	switch {
	case p.Param == nil || !validName(p.Param.Value):
		return "the special parameter $" + paramName(p)
	case p.Excl, p.Length, p.Width, p.IsSet, p.Index != nil, p.Slice != nil, p.Repl != nil,
		p.Names != 0, len(p.Modifiers) > 0, p.NestedParam != nil:
		return "the parameter operation ${" + p.Param.Value + "...}"
	case slices.Contains(bashComputed, p.Param.Value) || strings.HasPrefix(p.Param.Value, "BASH_"):
		return "$" + p.Param.Value + " (bash computes it)"
	case p.Exp == nil:
		return ""
	}
	switch p.Exp.Op {
	case syntax.DefaultUnset, syntax.DefaultUnsetOrNull, syntax.AlternateUnset, syntax.AlternateUnsetOrNull:
		return ""
	}
	return "the parameter operation ${" + p.Param.Value + p.Exp.Op.String() + "...}"
}

func paramName(p *syntax.ParamExp) string {
	if p.Param == nil {
		return "?"
	}
	return p.Param.Value
}

func validName(s string) bool {
	for i, c := range s {
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// lookup is a variable's value as the file sees it at this point.
func (sh *shellEnv) lookup(name string) string {
	v, _ := sh.get(name)
	return v
}

func (sh *shellEnv) get(name string) (string, bool) {
	if v, ok := sh.set[name]; ok {
		return v, true
	}
	if v, ok := sh.environ[name]; ok {
		return v, true
	}
	if name == "HOSTNAME" { // bash sets it when the environment does not
		if h, err := os.Hostname(); err == nil {
			return h, true
		}
	}
	return "", false
}

// Get and Each make shellEnv an expand.Environ.
func (sh *shellEnv) Get(name string) expand.Variable {
	v, ok := sh.get(name)
	if !ok {
		return expand.Variable{}
	}
	return expand.Variable{Set: true, Exported: true, Kind: expand.String, Str: toRunes(v)}
}

func (sh *shellEnv) Each(fn func(name string, vr expand.Variable) bool) {
	for name := range sh.environ {
		if _, ok := sh.set[name]; !ok && !fn(name, sh.Get(name)) {
			return
		}
	}
	for name := range sh.set {
		if !fn(name, sh.Get(name)) {
			return
		}
	}
}
