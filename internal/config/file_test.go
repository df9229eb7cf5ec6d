package config

import (
	"maps"
	"sort"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	tests := []struct {
		name string
		text string
		want map[string]string // nil: an error naming wantLine
		line string
	}{
		{"empty", "", map[string]string{}, ""},
		{"blank lines and comments", "\n   \n# a comment\n\t# indented comment\n", map[string]string{}, ""},
		{"bare", "A=1\nB=redis.example.com\n", map[string]string{"A": "1", "B": "redis.example.com"}, ""},
		{"export", "export A=1\nexport\tB=2\nexport  C=3\n", map[string]string{"A": "1", "B": "2", "C": "3"}, ""},
		{"a variable named export", "export=1\nexports=2\n", map[string]string{"export": "1", "exports": "2"}, ""},
		{"single quotes keep everything", `A='a "b" $c \d #e'`, map[string]string{"A": `a "b" $c \d #e`}, ""},
		{"double quotes with escapes", `A="a \"b\" \$c \\d \x #e"`, map[string]string{"A": `a "b" $c \d \x #e`}, ""},
		{"empty values", "A=\nB=''\nC=\"\"\n", map[string]string{"A": "", "B": "", "C": ""}, ""},
		{"spaces inside quotes", "A='  padded  '\n", map[string]string{"A": "  padded  "}, ""},
		{"comment after a bare value", "A=1 # one\nB=2\t# two\nC=3#not-a-comment\n", map[string]string{"A": "1", "B": "2", "C": "3#not-a-comment"}, ""},
		{"comment after quotes", "A='x' # c\nB=\"y\"# c\n", map[string]string{"A": "x", "B": "y"}, ""},
		{"a value starting with #", "A=#x\n", map[string]string{"A": "#x"}, ""},
		{"spaces around =", "A = 1\n  B= 2\n", map[string]string{"A": "1", "B": "2"}, ""},
		{"the last one wins", "A=1\nA=2\n", map[string]string{"A": "2"}, ""},
		{"CRLF line ends", "A=1\r\nB='2'\r\n", map[string]string{"A": "1", "B": "2"}, ""},
		{"no newline at the end", "A=1", map[string]string{"A": "1"}, ""},
		{"byte order mark", "\ufeffA=1\n", map[string]string{"A": "1"}, ""},
		{"= in the value", "A='x=y'\nB=x=y\n", map[string]string{"A": "x=y", "B": "x=y"}, ""},

		{"no =", "A=1\nnonsense\n", nil, "line 2"},
		{"bad name", "1A=1\n", nil, "line 1"},
		{"name with a dash", "A-B=1\n", nil, "line 1"},
		{"empty name", "=1\n", nil, "line 1"},
		{"unquoted space", "A=two words\n", nil, "line 1"},
		{"unterminated single", "A='x\n", nil, "line 1"},
		{"unterminated double", "A=\"x\n", nil, "line 1"},
		{"escaped closing quote", `A="x\"` + "\n", nil, "line 1"},
		{"text after the quote", "A='x'y\n", nil, "line 1"},
		{"quote inside a bare value", "A=it's\n", nil, "line 1"},
		{"a shell command", "\n\nif true; then A=1; fi\n", nil, "line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFile(strings.NewReader(tt.text))
			switch {
			case tt.want == nil && err == nil:
				t.Errorf("ParseFile(%q) = %q, want an error at %s", tt.text, got, tt.line)
			case tt.want == nil && !strings.HasPrefix(err.Error(), tt.line+":"):
				t.Errorf("ParseFile(%q): error %q does not start with %q", tt.text, err, tt.line)
			case tt.want != nil && err != nil:
				t.Errorf("ParseFile(%q): %v", tt.text, err)
			case tt.want != nil && !maps.Equal(got, tt.want):
				t.Errorf("ParseFile(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// TestParseFileErrorHidesValue checks that a bad line's error names the line and variable
// but never repeats the value: it may be a password.
func TestParseFileErrorHidesValue(t *testing.T) {
	for _, text := range []string{"CRONLOCK_AUTH=pass word\n", "CRONLOCK_AUTH='pass word\n", "CRONLOCK_AUTH=\"pass word\n"} {
		_, err := ParseFile(strings.NewReader(text))
		if err == nil {
			t.Fatalf("ParseFile(%q): no error", text)
		}
		if strings.Contains(err.Error(), "pass") || !strings.Contains(err.Error(), "CRONLOCK_AUTH") {
			t.Errorf("ParseFile(%q): error %q", text, err)
		}
	}
}

// FuzzParseFile checks that ParseFile never panics, and that whatever it reads, written
// back as NAME='value' lines, reads the same again.
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"",
		"CRONLOCK_HOST=redis.example.com\nCRONLOCK_PORT=6379\nCRONLOCK_GRACE=40\n",
		"# cronlock config\nexport CRONLOCK_HOST=\"10.0.0.5\"\nexport CRONLOCK_AUTH='s3cr3t pass'\nCRONLOCK_RELEASE=86400 # one day\n",
		"CRONLOCK_KEY='nightly backup'\r\nCRONLOCK_PREFIX=\"cron:{jobs}:\"\r\n",
		"\n\n   \t\n#only comments\n",
		"A=\"x \\\"quoted\\\" \\$HOME \\\\ \\n\"\n",
		"A='it''s'\n",
		"A='unterminated\n",
		"A=\"unterminated\n",
		"A=\"\\\n",
		"export\tA=1\nexport  B=2\nexport=3\n",
		"A=1 #c\nB=2\t#c\nC=3#c\n",
		"\ufeffA=1\n",
		"A=x=y\n= \n",
		"A='a'#c\nB=\"b\"  # c\n",
		"A=\x00\nB='\xff\xfe'\n",
		"A='\u00a0'\n\u00a0B=1\u0085\n",
		"A=\"'\"\n",
		strings.Repeat("A", 100) + "=" + strings.Repeat("v", 200) + "\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		vars, err := ParseFile(strings.NewReader(text))
		if err != nil {
			return
		}
		var b strings.Builder
		names := make([]string, 0, len(vars))
		for name, value := range vars {
			if strings.Contains(value, "'") {
				continue // cannot be written in single quotes
			}
			names = append(names, name)
		}
		sort.Strings(names)
		want := map[string]string{}
		for _, name := range names {
			want[name] = vars[name]
			b.WriteString(name + "='" + vars[name] + "'\n")
		}
		again, err := ParseFile(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("ParseFile(%q) = %q, but reading it back as\n%s\nfails: %v", text, vars, b.String(), err)
		}
		if !maps.Equal(again, want) {
			t.Fatalf("ParseFile(%q) = %q; written back and read again: %q", text, want, again)
		}
	})
}
