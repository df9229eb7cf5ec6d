package config

import (
	"fmt"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// FilePermissionProblem says what is wrong with the permissions of the config file at
// path, in one line with what to do: writable by its group or by every user (who could
// point golock at another Redis), or readable by every user while it holds a password.
// It is "" when nothing is, or the file cannot be read (a run says so). A file readable
// by its group is what the manual advises: owned by root and a group of the users whose
// crontabs run golock, mode 0640.
func FilePermissionProblem(path string) string {
	src, fi, err := readConfig(path)
	if err != nil || isDevNull(fi) {
		return ""
	}
	sourced, err := Source(src, map[string]string{})
	if err != nil {
		return permissionProblem(path, fi, "")
	}
	return permissionProblem(path, fi, secretIn(sourced.Vars))
}

// permissionProblem is FilePermissionProblem for a file already read; secret names the
// password it holds, "" when none.
func permissionProblem(path string, fi os.FileInfo, secret string) string {
	perm := fi.Mode().Perm()
	switch {
	case perm&0o002 != 0:
		return fmt.Sprintf("config file %s is writable by every user (mode %04o), who could point golock at "+
			"another Redis; chmod o-w %s", path, perm, path)
	case perm&0o020 != 0:
		return fmt.Sprintf("config file %s is writable by its group %s (mode %04o), who could point golock at "+
			"another Redis; chmod g-w %s", path, groupName(fi), perm, path)
	case secret != "" && perm&0o004 != 0:
		return fmt.Sprintf("config file %s holds %s and is readable by every user (mode %04o); chmod o-r %s "+
			"(0640, its group one of the users who run golock)", path, secret, perm, path)
	}
	return ""
}

// groupName is the name of the file's group, or its number when it has no name.
func groupName(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	gid := strconv.FormatUint(uint64(st.Gid), 10)
	if g, err := user.LookupGroupId(gid); err == nil {
		return g.Name
	}
	return gid
}

// secretIn names the variable of vars that holds a password, or is "" when none does.
func secretIn(vars map[string]string) string {
	for _, name := range []string{"CRONLOCK_AUTH", "CRONLOCK_SENTINEL_AUTH"} {
		if vars[name] != "" {
			return name
		}
	}
	if u, err := url.Parse(vars["CRONLOCK_URL"]); err == nil && u.User != nil {
		if _, set := u.User.Password(); set {
			return "a password in CRONLOCK_URL"
		}
	}
	return ""
}
