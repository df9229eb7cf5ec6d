package config

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseFile reads a cronlock-style config file: NAME=value lines, each optionally
// preceded by "export ", the value bare or in single or double quotes, with "#" comments
// and blank lines. A line it cannot read is an error naming its number.
func ParseFile(r io.Reader) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a byte order mark, from some editors
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			line = rest
		}
		name, raw, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || !nameRE.MatchString(name) {
			return nil, fmt.Errorf("line %d: want NAME=value", n)
		}
		value, err := unquote(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %v", n, name, err)
		}
		vars[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vars, nil
}

// unquote reads a shell-style value: 'single' taken as it is, "double" with \" \\ \$ \`
// escapes, or bare up to a comment (a # after a space or tab).
func unquote(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	var value string
	var rest string
	switch raw[0] {
	case '\'':
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated single quote")
		}
		value, rest = raw[1:1+end], raw[2+end:]
	case '"':
		var b strings.Builder
		i := 1
		for ; i < len(raw) && raw[i] != '"'; i++ {
			if raw[i] == '\\' && i+1 < len(raw) && strings.IndexByte("\"\\$`", raw[i+1]) >= 0 {
				i++
			}
			b.WriteByte(raw[i])
		}
		if i >= len(raw) {
			return "", fmt.Errorf("unterminated double quote")
		}
		value, rest = b.String(), raw[i+1:]
	default:
		value = raw
		for i := 1; i < len(raw); i++ { // a # after a blank starts a comment, as in sh
			if raw[i] == '#' && (raw[i-1] == ' ' || raw[i-1] == '\t') {
				value = raw[:i]
				break
			}
		}
		value = strings.TrimSpace(value)
		if strings.ContainsAny(value, " \t'\"") {
			return "", fmt.Errorf("a value with spaces or quotes must be quoted as a whole")
		}
		return value, nil
	}
	rest = strings.TrimSpace(rest)
	if rest != "" && !strings.HasPrefix(rest, "#") {
		return "", fmt.Errorf("unexpected text after the closing quote")
	}
	return value, nil
}
