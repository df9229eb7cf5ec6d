package config

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	env := map[string]string{"HOME": "/home/cron", "X": "fromenv", "EMPTY": "", "CRONLOCK_PREFIX": "env.",
		"LATIN": "caf\xe9", "RAW": "\U0010FFA9"}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		text string
		want map[string]string // nil: an error
		line string            // the error's start, e.g. "line 2: CRONLOCK_PREFIX"
		says string            // what the error must also say
	}{
		{"empty", "", map[string]string{}, "", ""},
		{"blank lines and comments", "\n   \n# a comment\n\t# indented comment\n", map[string]string{}, "", ""},
		{"bare", "A=1\nB=redis.example.com\n", map[string]string{"A": "1", "B": "redis.example.com"}, "", ""},
		{"export", "export A=1\nexport\tB=2\nexport  C=3 D=4\n", map[string]string{"A": "1", "B": "2", "C": "3", "D": "4"}, "", ""},
		{"export of a name alone", "A=1\nexport A\nexport X\n", map[string]string{"A": "1"}, "", ""},
		{"several on a line", "A=1 B=$A; C=3\n", map[string]string{"A": "1", "B": "1", "C": "3"}, "", ""},
		{"single quotes keep everything", `A='a "b" $c \d #e ${X} $(x) ` + "`x`'", map[string]string{"A": `a "b" $c \d #e ${X} $(x) ` + "`x`"}, "", ""},
		{"double quotes with escapes", `A="a \"b\" \$c \\d \x #e"`, map[string]string{"A": `a "b" $c \d \x #e`}, "", ""},
		{"ANSI-C quotes", `A=$'tab\there'`, map[string]string{"A": "tab\there"}, "", ""},
		{"adjacent quotes", `A='it'"'"'s' B='a''b'`, map[string]string{"A": "it's", "B": "ab"}, "", ""},
		{"backslash in a bare value", `A=a\ b\$c`, map[string]string{"A": "a b$c"}, "", ""},
		{"empty values", "A=\nB=''\nC=\"\"\n", map[string]string{"A": "", "B": "", "C": ""}, "", ""},
		{"spaces inside quotes", "A='  padded  '\n", map[string]string{"A": "  padded  "}, "", ""},
		{"comment after a value", "A=1 # one\nB=2\t# two\nC=3#not-a-comment\n", map[string]string{"A": "1", "B": "2", "C": "3#not-a-comment"}, "", ""},
		{"comment after quotes", "A='x' # c\nB=\"y\"\t# c\n", map[string]string{"A": "x", "B": "y"}, "", ""},
		{"a value starting with #", "A=#x\n", map[string]string{"A": "#x"}, "", ""},
		{"the last one wins", "A=1\nA=2\n", map[string]string{"A": "2"}, "", ""},
		{"no newline at the end", "A=1", map[string]string{"A": "1"}, "", ""},
		{"byte order mark", "\ufeffA=1\n", map[string]string{"A": "1"}, "", ""},
		{"= in the value", "A='x=y'\nB=x=y\n", map[string]string{"A": "x=y", "B": "x=y"}, "", ""},
		{"a quoted newline", "A='one\ntwo'\n", map[string]string{"A": "one\ntwo"}, "", ""},
		{"append", "A=x\nA+=y\nX+=z\n", map[string]string{"A": "xy", "X": "fromenvz"}, "", ""},

		{"$NAME from the environment", "A=$X B=${X}.b C=\"$X-$HOME\"", map[string]string{"A": "fromenv", "B": "fromenv.b", "C": "fromenv-/home/cron"}, "", ""},
		{"$NAME from an earlier line", "BASE=jobs\nCRONLOCK_PREFIX=\"${BASE}.app1.\"\n", map[string]string{"BASE": "jobs", "CRONLOCK_PREFIX": "jobs.app1."}, "", ""},
		{"the file's value over the environment's", "X=fromfile\nA=$X\n", map[string]string{"X": "fromfile", "A": "fromfile"}, "", ""},
		{"the variable itself", "CRONLOCK_PREFIX=\"${CRONLOCK_PREFIX}more.\"", map[string]string{"CRONLOCK_PREFIX": "env.more."}, "", ""},
		{"unset is empty", "A=\"[$UNSET]\"", map[string]string{"A": "[]"}, "", ""},
		{"${X:-d} set", "A=${X:-d}", map[string]string{"A": "fromenv"}, "", ""},
		{"${X:-d} unset", "A=${UNSET:-d}", map[string]string{"A": "d"}, "", ""},
		{"${X:-d} empty", "A=${EMPTY:-d}", map[string]string{"A": "d"}, "", ""},
		{"${X-d} empty", "A=${EMPTY-d}", map[string]string{"A": ""}, "", ""},
		{"${X-d} unset", "A=${UNSET-d}", map[string]string{"A": "d"}, "", ""},
		{"${X:+alt}", "A=${X:+alt} B=${EMPTY:+alt} C=${EMPTY+alt}", map[string]string{"A": "alt", "B": "", "C": "alt"}, "", ""},
		{"nested default", "A=\"${UNSET:-${X}.d}\" B=${UNSET:-'$X'}", map[string]string{"A": "fromenv.d", "B": "$X"}, "", ""},
		{"backslashes in a default", `A=${UNSET:-a\ b} B="${UNSET:-a\ b}" C=${UNSET:-"a\ b"}`, map[string]string{"A": "a b", "B": `a\ b`, "C": `a\ b`}, "", ""},
		{"a trailing backslash", `A=x\`, map[string]string{"A": `x\`}, "", ""},
		{"$HOSTNAME, which bash sets", "A=lock.$HOSTNAME.", map[string]string{"A": "lock." + host + "."}, "", ""},
		{"tilde", "A=~/x B=\"~/x\"", map[string]string{"A": "/home/cron/x", "B": "~/x"}, "", ""},
		{"tilde after colons", "A=~/a:~/b:~ B=x=~/y C=a:~root:b D=~root/q E=\"x:~/y\" F=a:~$X G=~\\/x:\\~/x H=${UNSET:-a:~/x} I=~nosuchuser:~/z J=x\\:~/y K=\"${UNSET:-~/x}\" L=\"${UNSET:-~+}\" M=${X:+~} N=\"${UNSET:-${UNSET:-~}}\" O=${UNSET:-\"~\"}",
			map[string]string{"A": "/home/cron/a:/home/cron/b:/home/cron", "B": "x=~/y", "C": "a:/root:b", "D": "/root/q", "E": "x:~/y",
				"F": "a:~fromenv", "G": "~/x:~/x", "H": "a:/home/cron/x", "I": "~nosuchuser:/home/cron/z", "J": "x:~/y",
				"K": "~/x", "L": "~+", "M": "/home/cron", "N": "~", "O": "~"}, "", ""},
		{"tilde in export", "export A=~/a:~/b", map[string]string{"A": "/home/cron/a:/home/cron/b"}, "", ""},
		{"set -a", "set -a\nA=1\nset +a\nB=2\nset -o allexport\nC=3\nset +o allexport\n", map[string]string{"A": "1", "B": "2", "C": "3"}, "", ""},

		// bash reads bytes: a file in Latin-1 is as good as one in UTF-8.
		{"Latin-1 in a comment", "# caf\xe9\nA=1\n", map[string]string{"A": "1"}, "", ""},
		{"Latin-1 in values", "A=caf\xe9 B='caf\xe9' C=\"caf\xe9 $X\" D=a\\\xe9b E=${UNSET:-\xe9}", map[string]string{"A": "caf\xe9", "B": "caf\xe9", "C": "caf\xe9 fromenv", "D": "a\xe9b", "E": "\xe9"}, "", ""},
		{"bytes of every kind", "A='\x80\xff\xc3' B=$'\\xe9' C=\xc3\xa9 D='\xf4\x8f\xbe\xa9'", map[string]string{"A": "\x80\xff\xc3", "B": "\xe9", "C": "é", "D": "\U0010FFA9"}, "", ""},
		{"bytes from the environment", "A=$LATIN.$RAW B=\"$LATIN\" LATIN+=x", map[string]string{"A": "caf\xe9.\U0010FFA9", "B": "caf\xe9", "LATIN": "caf\xe9x"}, "", ""},
		{"a NUL byte", "A=x\x00y\nB=1\x00\n", map[string]string{"A": "xy", "B": "1"}, "", ""},

		{"command substitution", "A=1\nCRONLOCK_PREFIX=\"lock.$(hostname).\"\n", nil, "line 2: CRONLOCK_PREFIX", "command substitution $(...)"},
		{"backticks", "CRONLOCK_KEY=`date +%F`", nil, "line 1: CRONLOCK_KEY", "backticks"},
		{"command substitution in a default", "A=${UNSET:-$(id -u)}", nil, "line 1: A", "command substitution"},
		{"arithmetic", "CRONLOCK_GRACE=$((60*2))", nil, "line 1: CRONLOCK_GRACE", "arithmetic"},
		{"a replacement", "A=${X/env/file}", nil, "line 1: A", "${X...}"},
		{"a length", "A=${#X}", nil, "line 1: A", "${X...}"},
		{"an assigning default", "A=${UNSET:=d}", nil, "line 1: A", "${UNSET:=...}"},
		{"an error default", "A=${UNSET:?}", nil, "line 1: A", "${UNSET:?...}"},
		{"a positional parameter", "A=$1", nil, "line 1: A", "special parameter $1"},
		{"the shell's pid", "A=lock.$$", nil, "line 1: A", "special parameter $$"},
		{"a bash-computed variable", "A=$RANDOM", nil, "line 1: A", "bash computes it"},
		{"no = (a command)", "A=1\nnonsense\n", nil, "line 2:", "runs a command"},
		{"spaces around =", "A = 1\n", nil, "line 1:", "runs a command"},
		{"unquoted space", "A=two words\n", nil, "line 1: A", "runs a command"},
		{"a prefix assignment", "A=1 env\n", nil, "line 1: A", "runs a command"},
		{"a name with a dash", "A-B=1\n", nil, "line 1:", "runs a command"},
		{"a name starting with a digit", "0=[\n", nil, "line 1:", "runs a command"},
		{"unterminated single", "A='x\n", nil, "line 1: A", "quote"},
		{"unterminated double", "B=1\nexport A=\"x\n", nil, "line 2: A", "quote"},
		{"escaped closing quote", `A="x\"` + "\n", nil, "line 1:", "quote"},
		{"an if", "\n\nif true; then A=1; fi\n", nil, "line 3:", "not shell commands"},
		{"a pipe", "A=1 | cat\n", nil, "line 1:", "not shell commands"},
		{"a redirection", "A=1 >/dev/null\n", nil, "line 1:", "redirections"},
		{"readonly", "readonly A=1\n", nil, "line 1:", `"readonly"`},
		{"source", "source /etc/other.conf\n", nil, "line 1:", "runs a command"},
		{"an array", "A=(1 2)\n", nil, "line 1: A", "arrays"},
		{"export -n", "export -n A\n", nil, "line 1:", "options"},
		{"$_", "A=1\nB=$_\n", nil, "line 2: B", "$_ (bash computes it)"},
		{"${_}", "A=${_:-x}\n", nil, "line 1: A", "$_ (bash computes it)"},
		{"~+", "A=~+/x\n", nil, "line 1: A", "~+ (bash computes it)"},
		{"~- after a colon", "A=x:~-\n", nil, "line 1: A", "~- (bash computes it)"},
		{"~N", "A=~2\n", nil, "line 1: A", "~2 (bash computes it)"},
		{"~+ in a default", "A=${UNSET:-~+}\n", nil, "line 1: A", "~+"},
		{"$'\\u'", "A=$'caf\\u00e9'\n", nil, "line 1: A", "locale"},
		{"set -a left on", "A=1\nset -a\nB=2\n", nil, "line 2:", "set +a"},
		{"another set", "set -e\n", nil, "line 1:", "runs a command"},
		{"NUL bytes in a row", "A=1\nB=x\x00\x00y\n", nil, "line 2:", "NUL bytes in a row"},
		{"too many NUL bytes", "A=1\n" + strings.Repeat("#\x00", 257), nil, "line 2:", "257 NUL bytes"},
		{"CR LF line ends", "A=1\r\nB='2'\r\n", nil, "line 1:", "dos2unix"},
		{"CR LF after a line", "A=1\nB=2\r\n", nil, "line 2:", "dos2unix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFile(strings.NewReader(tt.text), env)
			switch {
			case tt.want == nil && err == nil:
				t.Errorf("ParseFile(%q) = %q, want an error at %s", tt.text, got, tt.line)
			case tt.want == nil && (!strings.HasPrefix(err.Error(), tt.line) || !strings.Contains(err.Error(), tt.says)):
				t.Errorf("ParseFile(%q): error %q, want one starting %q and saying %q", tt.text, err, tt.line, tt.says)
			case tt.want != nil && err != nil:
				t.Errorf("ParseFile(%q): %v", tt.text, err)
			case tt.want != nil && !maps.Equal(got, tt.want):
				t.Errorf("ParseFile(%q) = %q, want %q", tt.text, got, tt.want)
			}
			if tt.want != nil && !strings.Contains(tt.name, "byte order mark") {
				if fromBash := sourceWithBash(t, tt.text, env, tt.want); !maps.Equal(fromBash, tt.want) {
					t.Errorf("bash sourcing %q gives %q, the test wants %q", tt.text, fromBash, tt.want)
				}
			}
		})
	}
}

// sourceWithBash sources text with the real bash, as cronlock does, in the environment env,
// and returns the values of the names of want: the test's expectations are bash's own. bash
// runs in the C locale (cron's, with no LANG) and in C.UTF-8, which must agree.
func sourceWithBash(t *testing.T, text string, env, want map[string]string) map[string]string {
	t.Helper()
	got := sourceWithBashIn(t, text, env, want, "")
	if utf8 := sourceWithBashIn(t, text, env, want, "C.UTF-8"); !maps.Equal(got, utf8) {
		t.Errorf("bash sourcing %q gives %q in the C locale, %q in C.UTF-8", text, got, utf8)
	}
	return got
}

func sourceWithBashIn(t *testing.T, text string, env, want map[string]string, locale string) map[string]string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash not found: the config file tests compare golock with bash")
	}
	file := filepath.Join(t.TempDir(), "cronlock.conf")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	script := `set -e; source "$0"; for n in "$@"; do printf '%s=%s\0' "$n" "${!n}"; done`
	cmd := exec.Command(bash, append([]string{"-c", script, file}, names...)...)
	cmd.Env = []string{}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if locale != "" {
		cmd.Env = append(cmd.Env, "LC_ALL="+locale)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash cannot source %q: %v", text, err)
	}
	got := map[string]string{}
	for _, kv := range bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			got[k] = v
		}
	}
	return got
}

// TestParseFileErrorHidesValue checks that a bad line's error names the line and variable
// but never repeats the value: it may be a password.
func TestParseFileErrorHidesValue(t *testing.T) {
	for _, text := range []string{
		"CRONLOCK_AUTH=pass word\n", "CRONLOCK_AUTH='pass word\n", "CRONLOCK_AUTH=\"pass word\n",
		"CRONLOCK_AUTH=\"pass$(cat /run/secret)word\"\n", "CRONLOCK_AUTH=pass`x`word\n",
		"CRONLOCK_AUTH=pass${X/a/b}word\n", "CRONLOCK_AUTH=pass$((1+1))word\n",
	} {
		_, err := ParseFile(strings.NewReader(text), nil)
		if err == nil {
			t.Fatalf("ParseFile(%q): no error", text)
		}
		if strings.Contains(err.Error(), "pass") || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "CRONLOCK_AUTH") {
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
		"CRONLOCK_KEY='nightly backup'\nCRONLOCK_PREFIX=\"cron:{jobs}:\"\n",
		"\n\n   \t\n#only comments\n",
		"A=\"x \\\"quoted\\\" \\$HOME \\\\ \\n\"\n",
		"A='it''s'\n",
		"A='unterminated\n",
		"A=\"unterminated\n",
		"A=\"\\\n",
		"export\tA=1\nexport  B=2\nexport A\n",
		"A=1 #c\nB=2\t#c\nC=3#c\n",
		"\ufeffA=1\n",
		"A=x=y\n= \n",
		"A='a'#c\nB=\"b\"  # c\n",
		"A=\x00\nB='\xff\xfe'\n",
		"A='\u00a0'\n\u00a0B=1\u0085\n",
		"A=\"'\"\n",
		"BASE=jobs\nCRONLOCK_PREFIX=\"${BASE}.app1.\"\nB=${UNSET:-d} C=${BASE-x}${E:+y}\n",
		"A=$'\\t\\x41'\nB=~/x\nA+=more\n",
		"CRONLOCK_PREFIX=\"lock.$(hostname).\"\nB=`date`\nC=$((1+2))\nD=${A/x/y}\n",
		"A=${B:-${C:-$(x)}}\nD=$1$$$@\n",
		"A=1\r\nB=2\r\n",
		"# caf\xe9\nA='caf\xe9' B=\xe9\\\xe9 C=\"\xff$X\" D='\U0010FFA9'\n",
		"A=~/x:~root:~+ B=$_ C=$'\\u00e9'\nset -a\nD=1\nset +a\n",
		"A=x\x00y\x00\x00z\n",
		"if true; then A=1; fi\nA=1 | cat\n",
		strings.Repeat("A", 100) + "=" + strings.Repeat("v", 200) + "\n",
	} {
		f.Add(seed)
	}
	env := map[string]string{"HOME": "/home/cron", "X": "x"}
	f.Fuzz(func(t *testing.T, text string) {
		vars, err := ParseFile(strings.NewReader(text), env)
		if err != nil {
			return
		}
		var b strings.Builder
		names := make([]string, 0, len(vars))
		for name, value := range vars {
			if strings.ContainsAny(value, "'\r") {
				continue // cannot be written in single quotes, or refused as CR LF
			}
			names = append(names, name)
		}
		sort.Strings(names)
		want := map[string]string{}
		for _, name := range names {
			want[name] = vars[name]
			b.WriteString(name + "='" + vars[name] + "'\n")
		}
		again, err := ParseFile(strings.NewReader(b.String()), env)
		if err != nil {
			t.Fatalf("ParseFile(%q) = %q, but reading it back as\n%s\nfails: %v", text, vars, b.String(), err)
		}
		if !maps.Equal(again, want) {
			t.Fatalf("ParseFile(%q) = %q; written back and read again: %q", text, want, again)
		}
	})
}
