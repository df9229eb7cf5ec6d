package doctor

import (
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/golock/golock/internal/config"
)

// secrets are the variables whose values are shown as *** (CRONLOCK_URL's password too).
var secrets = map[string]bool{"CRONLOCK_AUTH": true, "CRONLOCK_SENTINEL_AUTH": true}

// settings are the effective settings, one "NAME=value (where from)" each, in the order
// config.Config declares them: "config file" when the file set it (the file wins, as in
// cronlock), "environment", or "default"; a setting that is unset and empty is left out.
// Passwords are ***.
func settings(cfg *config.Config, environ []string) []string {
	env := config.Vars(environ)
	file := fileVars(cfg.File, env)
	var lines []string
	t := reflect.TypeFor[config.Config]()
	v := reflect.ValueOf(cfg).Elem()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("env")
		if name == "" {
			continue
		}
		from := "default"
		switch {
		case name == "CRONLOCK_CONFIG" && cfg.File != "" && env[name] == "":
			from = "found by searching"
		case file[name] != "":
			from = "config file"
		case env[name] != "":
			from = "environment"
		}
		if from == "default" && v.Field(i).IsZero() && v.Field(i).Kind() == reflect.String {
			continue // unset, and nothing in its place: CRONLOCK_AUTH, CRONLOCK_URL, ...
		}
		lines = append(lines, fmt.Sprintf("%s=%s (%s)", name, show(name, v.Field(i)), from))
	}
	return lines
}

// fileVars are the assignments of the config file at path, "" for none; nil when it
// cannot be read (config.Load has said so then).
func fileVars(path string, env map[string]string) map[string]string {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	vars, _ := config.ParseFile(f, env)
	return vars
}

// show is a setting's value as a person would write it: seconds for durations, yes/no for
// booleans, *** for a password.
func show(name string, v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return strconv.FormatFloat(x.Seconds(), 'f', -1, 64)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case int:
		return strconv.Itoa(x)
	case string:
		switch {
		case x != "" && secrets[name]:
			return "***"
		case name == "CRONLOCK_URL":
			return maskURL(x)
		case name == "CRONLOCK_PING_URL" && x != "":
			return maskPingURL(x)
		case x == "" || strings.ContainsAny(x, " \t\"'\\$"):
			return strconv.Quote(x)
		}
		return x
	}
	return fmt.Sprint(v.Interface())
}

// maskPingURL is a ping URL with only its scheme and host shown: its path is the check's
// secret (whoever has it can ping the check), and it may hold a password.
func maskPingURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "***"
	}
	return u.Scheme + "://" + u.Host + "/***"
}

// maskURL is a Redis URL with its password, if any, as ***.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "***" // config.Load refuses it; it may hold a password
	}
	if u.User == nil {
		return s
	}
	user := u.User.Username()
	_, hasPassword := u.User.Password()
	u.User = nil
	rest := strings.TrimPrefix(u.String(), u.Scheme+"://")
	if hasPassword {
		return u.Scheme + "://" + url.User(user).String() + ":***@" + rest
	}
	return u.Scheme + "://" + url.User(user).String() + "@" + rest
}
