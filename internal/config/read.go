package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
)

// readFile reads the config file at path, expanding its values from environ, and says
// what is wrong with its permissions ("" when nothing is). explicit says CRONLOCK_CONFIG
// named the file; a file found by searching is named in its errors instead.
func readFile(path string, environ map[string]string, explicit bool) (*Sourced, string, error) {
	fail := func(msg string) error {
		if explicit {
			return &Problem{"CRONLOCK_CONFIG", msg}
		}
		return fmt.Errorf("%s (found by searching; CRONLOCK_CONFIG is not set)", msg)
	}
	src, fi, err := readConfig(path)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return nil, "", fail(openError(path, err))
	case err != nil:
		return nil, "", fail(err.Error())
	}
	sourced, err := Source(src, environ)
	var ferr *FileError
	switch {
	case errors.As(err, &ferr) && strings.HasPrefix(ferr.Var, "CRONLOCK_"):
		return nil, "", &Problem{ferr.Var, fmt.Sprintf("%s: line %d: %s", path, ferr.Line, ferr.Msg)}
	case err != nil:
		return nil, "", fail(fmt.Sprintf("config file %s: %v", path, err))
	}
	if isDevNull(fi) {
		return sourced, "", nil
	}
	return sourced, permissionProblem(path, fi, secretIn(sourced.Vars)), nil
}

// jobEnv is what the file passes to the job (see Config.JobEnv), sourced in environ.
func (s *Sourced) jobEnv(environ map[string]string) []string {
	var env []string
	for _, name := range slices.Sorted(maps.Keys(s.Vars)) {
		v := s.Vars[name]
		old, inEnv := environ[name]
		if (s.Exported[name] || inEnv) && (!inEnv || old != v) {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// MaxFileSize is the largest config file golock reads, 1 MiB: a cronlock config file holds
// a few settings, and a path naming something huge must not cost more than this.
const MaxFileSize = 1 << 20

// readConfig returns the bytes of the config file at path. It reads a regular file of at
// most MaxFileSize, and /dev/null (for "no file") as an empty one; anything else (a FIFO,
// /dev/zero, a directory) is refused by its kind before a byte is read, so that a FIFO never
// blocks and a device never streams without end. The error is the *fs.PathError of a file
// that cannot be opened, or one line saying what the file is and what golock reads.
func readConfig(path string) ([]byte, os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if isDevNull(fi) {
		return nil, fi, nil
	}
	if err := regular(path, fi); err != nil {
		return nil, nil, err
	}
	// O_NONBLOCK: should the path have become a FIFO since the Stat, opening it does not wait
	// for a writer, and the Stat of the open file refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, nil, tooBig(path, fmt.Sprintf("is %d bytes", fi.Size()))
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(src) > MaxFileSize { // it grew since the Stat, or is a file of /proc
		return nil, nil, tooBig(path, "holds more than 1 MiB")
	}
	return src, fi, nil
}

func tooBig(path, size string) error {
	return fmt.Errorf("config file %s %s; golock reads at most 1 MiB (%d bytes)", path, size, MaxFileSize)
}

// regular is nil when fi is a regular file, else says what the file at path is instead.
func regular(path string, fi os.FileInfo) error {
	kind := "not a regular file"
	switch m := fi.Mode(); {
	case m.IsRegular():
		return nil
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	}
	return fmt.Errorf("config file %s is %s; golock reads only a regular file, or /dev/null for none", path, kind)
}

// isDevNull says fi is /dev/null (by any name), which reads as an empty config file.
func isDevNull(fi os.FileInfo) bool {
	null, err := os.Stat(os.DevNull)
	return err == nil && fi.Mode()&fs.ModeCharDevice != 0 && os.SameFile(fi, null)
}

// openError is the message for a config file that cannot be opened: err without the path,
// which the message names once, and what to do when it is a matter of permissions.
func openError(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	msg := fmt.Sprintf("cannot read config file %s: %v", path, err)
	if errors.Is(err, os.ErrPermission) {
		msg += "; make it readable to the users who run golock (chgrp a group of theirs, chmod 0640)" +
			" or set CRONLOCK_CONFIG to a file they can read"
	}
	return msg
}
