package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caarlos0/env/v11"
)

var parsers = map[reflect.Type]env.ParserFunc{
	reflect.TypeFor[bool]():          func(v string) (any, error) { return ParseBool(v) },
	reflect.TypeFor[time.Duration](): func(v string) (any, error) { return ParseSeconds(v) },
	reflect.TypeFor[int](): func(v string) (any, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, &BadValue{"must be a whole number", v}
		}
		return n, nil
	},
}

// BadValue is a value a parser refused. Its message says what is allowed and leaves the
// value out: whoever names the variable decides whether it may be shown (see got).
type BadValue struct {
	Want  string // what is allowed
	Value string // what was given
}

func (e *BadValue) Error() string { return e.Want }

// ParseBool reads yes/no, true/false, 1/0 and on/off in any case. The error is a *BadValue.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "1", "on":
		return true, nil
	case "no", "false", "0", "off":
		return false, nil
	}
	return false, &BadValue{"must be yes or no (or true/false, 1/0, on/off)", v}
}

// ParseSeconds reads a number of seconds, fractions allowed, not negative. The error is a
// *BadValue.
func ParseSeconds(v string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e9 {
		return 0, &BadValue{"must be a number of seconds, 0 or more (e.g. 30 or 0.5)", v}
	}
	return time.Duration(f * float64(time.Second)), nil
}

// explain turns the env package's error into a Problem naming the variable.
func explain(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) {
		if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
			name := f.Tag.Get("env")
			var bad *BadValue
			if errors.As(pe.Err, &bad) {
				return &Problem{name, bad.Want + got(name, bad.Value)}
			}
			return &Problem{name, pe.Err.Error()}
		}
	}
	return err
}

// got ends a message about a refused value: ", got "value"" when the value may be shown,
// else a note that it is not. A password pasted into the wrong variable (a config file's
// lines shifted by one, say) must not reach cron's mail, so a value is shown only when
//   - its variable never holds an address, a name or a credential: the durations, the
//     booleans, the counts, CRONLOCK_ON_LOST and CRONLOCK_LOG_FORMAT (see echoable), and
//   - it is short and plain: at most 16 letters, digits, spaces and ".+-_".
//
// Host, port, database, URL, user, password, sentinel and TLS values are never shown.
func got(name, value string) string {
	if !echoable()[name] || len(value) > 16 || strings.IndexFunc(value, notPlain) >= 0 {
		return " (the value given is not shown)"
	}
	return fmt.Sprintf(", got %q", value)
}

func notPlain(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" .+-_", r))
}

// echoable are the variables whose refused values got may show: every duration and
// boolean, and the few others that hold a count or a word from a fixed list.
var echoable = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{"CRONLOCK_MIN_REPLICAS": true, "CRONLOCK_RECONNECT_ATTEMPTS": true, "CRONLOCK_LIMIT": true,
		"CRONLOCK_ON_LOST": true, "CRONLOCK_LOG_FORMAT": true}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		switch f := t.Field(i); f.Type {
		case reflect.TypeFor[bool](), reflect.TypeFor[time.Duration]():
			m[f.Tag.Get("env")] = true
		}
	}
	return m
})

// pingErr says what is wrong with a ping URL: it must be http:// or https://, with a host.
// The error never holds the URL, whose path is the check's secret.
func pingErr(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("must be an http:// or https:// URL (it does not parse)")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an http:// or https:// URL")
	case u.Hostname() == "":
		return errors.New("must be an http:// or https:// URL with a host")
	case u.Fragment != "" || u.Opaque != "":
		return errors.New("must be a plain http:// or https:// URL (no #fragment)")
	}
	return nil
}

func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
