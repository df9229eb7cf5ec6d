package config

import (
	"os/user"
	"regexp"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// tildes does bash's tilde expansion on the value of an assignment: a ~ at the start of the
// value, or after an unquoted colon (PATH=~/bin:~/sbin), up to the next / or colon, is the
// home directory: $HOME for ~ alone (or, with HOME unset, the user's own from the password
// file), that of the user named for ~name. A prefix with a quoted character, or followed by
// a quote or a $, stays as written, as does ~name for a name that is no user. ~+, ~- and
// ~N (the directory stack) are bash's own state: problem names them. Each ~ in the result is
// quoted, so that the expander does no tilde expansion of its own.
func (sh *shellEnv) tildes(word *syntax.Word) (out *syntax.Word, problem string) {
	out = &syntax.Word{}
	start := true // at the start of the value, or just after an unquoted colon
	for i, part := range word.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			s, lit := p.Value, 0 // s[lit:j] is still to be written as it is
			for j := 0; j < len(s); j++ {
				switch c := s[j]; {
				case c == '\\':
					j++ // an escaped character: never a colon that starts a prefix
					start = false
					continue
				case c == '~' && start:
					end := j + 1
					for end < len(s) && s[end] != '/' && s[end] != ':' {
						end++
					}
					name := s[j+1 : end]
					out.Parts = append(out.Parts, &syntax.Lit{Value: s[lit:j]})
					lit = j + 1
					if end == len(s) && i < len(word.Parts)-1 || strings.Contains(name, `\`) {
						out.Parts = append(out.Parts, &syntax.SglQuoted{Value: "~"})
						break
					}
					home, ok, problem := sh.home(name)
					if problem != "" {
						return nil, problem
					}
					if !ok {
						out.Parts = append(out.Parts, &syntax.SglQuoted{Value: "~"})
						break
					}
					out.Parts = append(out.Parts, &syntax.SglQuoted{Value: toRunes(home)})
					lit, j = end, end-1
					start = false
					continue
				}
				start = s[j] == ':'
			}
			out.Parts = append(out.Parts, &syntax.Lit{Value: s[lit:]})
		case *syntax.ParamExp:
			if p.Exp != nil && p.Exp.Word != nil { // ${NAME:-~/x} expands the ~ too
				w, problem := sh.tildes(p.Exp.Word)
				if problem != "" {
					return nil, problem
				}
				q := *p
				q.Exp = &syntax.Expansion{Op: p.Exp.Op, Word: w}
				part = &q
			}
			out.Parts = append(out.Parts, part)
			start = false
		case *syntax.DblQuoted:
			q := *p
			q.Parts = noTildes(p.Parts)
			out.Parts = append(out.Parts, &q)
			start = false
		default:
			out.Parts = append(out.Parts, part)
			start = false
		}
	}
	return out, ""
}

// dirStackRE matches the tilde prefixes that name bash's working directories: ~+ ($PWD),
// ~- ($OLDPWD) and ~N, ~+N, ~-N (its directory stack).
var dirStackRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[+-]?[0-9]*$`) })

// home is the directory of the tilde prefix ~name, and whether there is one.
func (sh *shellEnv) home(name string) (dir string, ok bool, problem string) {
	switch {
	case name == "":
		if dir, ok := sh.get("HOME"); ok {
			return dir, true, ""
		}
		u, err := user.Current()
		if err != nil {
			return "", false, ""
		}
		return u.HomeDir, true, ""
	case dirStackRE().MatchString(name):
		return "", false, "~" + name + " (bash computes it)"
	}
	u, err := user.Lookup(toBytes(name))
	if err != nil {
		return "", false, ""
	}
	return u.HomeDir, true, ""
}

// noTildes is parts, inside double quotes, with each ${NAME:-word} among them made to start
// with an empty literal: bash does no tilde expansion inside double quotes, where the
// expander would expand a ~ at the start of word.
func noTildes(parts []syntax.WordPart) []syntax.WordPart {
	out := make([]syntax.WordPart, len(parts))
	for i, part := range parts {
		if p, ok := part.(*syntax.ParamExp); ok && p.Exp != nil && p.Exp.Word != nil {
			q := *p
			word := &syntax.Word{Parts: append([]syntax.WordPart{&syntax.Lit{}}, noTildes(p.Exp.Word.Parts)...)}
			q.Exp = &syntax.Expansion{Op: p.Exp.Op, Word: word}
			part = &q
		}
		out[i] = part
	}
	return out
}
