package lockscript

import (
	"reflect"
	"strconv"
	"time"
)

// decode reads a script's array reply into the struct *dst, one element per field in the
// order they are declared, as each script's head comment lists them. It is lenient, as a
// reply from an older script may be shorter: a missing or odd element leaves its field at
// zero. Fields may be string, int, int64, bool (any value but "" and "0"), time.Duration
// (from milliseconds), time.Time (from unix milliseconds; 0 or "" is the zero time) or
// []any (a nested list, kept as it is).
func decode(reply []any, dst any) {
	v := reflect.ValueOf(dst).Elem()
	for i := range min(len(reply), v.NumField()) {
		f := v.Field(i)
		if list, ok := reply[i].([]any); ok {
			if f.Type() == reflect.TypeFor[[]any]() {
				f.Set(reflect.ValueOf(list))
			}
			continue
		}
		s := str(reply[i])
		n, _ := strconv.ParseInt(s, 10, 64)
		switch f.Interface().(type) {
		case string:
			f.SetString(s)
		case int, int64:
			f.SetInt(n)
		case bool:
			f.SetBool(s != "" && s != "0")
		case time.Duration:
			f.Set(reflect.ValueOf(time.Duration(n) * time.Millisecond))
		case time.Time:
			if n != 0 {
				f.Set(reflect.ValueOf(time.UnixMilli(n)))
			}
		}
	}
}

// status is the first element of a reply: what the script did.
func status(reply []any) string {
	if len(reply) == 0 {
		return ""
	}
	return str(reply[0])
}

// str reads one element of a reply: Lua strings arrive as strings, numbers as int64.
func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// pairs reads a flat field/value list (HGETALL's form) as a map; a list of one string (a
// string lock's value) reads as {"": value}.
func pairs(v any) map[string]string {
	list, _ := v.([]any)
	m := map[string]string{}
	if len(list) == 1 {
		m[""] = str(list[0])
		return m
	}
	for j := 0; j+1 < len(list); j += 2 {
		m[str(list[j])] = str(list[j+1])
	}
	return m
}

func ms(d time.Duration) int64 { return d.Milliseconds() }
