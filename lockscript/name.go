package lockscript

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
)

// Name is the lock name for a command, as cronlock makes it: prefix + key, where key
// defaults to the hex MD5 of the arguments joined by spaces plus a newline (what
// `echo "$@" | md5sum` prints).
func Name(prefix, key string, args []string) string {
	if key == "" {
		sum := md5.Sum([]byte(strings.Join(args, " ") + "\n"))
		key = hex.EncodeToString(sum[:])
	}
	return prefix + key
}

// FenceKey is the key of name's fence counter. It hashes to name's Redis Cluster slot:
// "{name}.fence", or "name.fence" when name already holds a non-empty {hash tag}. A name
// that holds a "}" but no such tag cannot be a tag itself; its tag is then the name without
// braces plus "#" and six digits chosen to land in the name's slot.
func FenceKey(name string) string {
	return sameSlot(name, ".fence")
}

// LastRunKey is the key of the record of name's last run, in name's cluster slot.
func LastRunKey(name string) string {
	return sameSlot(name, ".last")
}

// SlotKey is the key of slot k (from 1) of a lock taken with CRONLOCK_LIMIT above 1: slot 1
// is name itself, so that a LIMIT of 1 is the plain lock; slot k is "{name}.slotK" (or
// "name.slotK" when name holds a hash tag), in name's cluster slot.
func SlotKey(name string, k int) string {
	if k <= 1 {
		return name
	}
	return sameSlot(name, ".slot"+strconv.Itoa(k))
}

// LimitKey is the key that holds the LIMIT of name's holders while any runs with a LIMIT
// above 1, in name's cluster slot; every acquire reads it.
func LimitKey(name string) string {
	return sameSlot(name, ".limit")
}

// RecordKey is the key of golock's lock record when the lock is kept in cronlock's string
// form (Options.Mixed): NAME then holds the unix second cronlock reads, and the record (owner,
// fence, host, pid, command, times, and the value written to NAME) lives here, in name's
// cluster slot.
func RecordKey(name string) string {
	return sameSlot(name, ".record")
}

// Channel is where release and reset announce that name is free, for waiting golocks.
func Channel(name string) string {
	return sameSlot(name, ".released")
}

func sameSlot(name, suffix string) string {
	switch {
	case hasHashTag(name):
		return name + suffix
	case name != "" && !strings.Contains(name, "}"):
		return "{" + name + "}" + suffix
	}
	// Redis Cluster ends a hash tag at the first "}" (and ignores an empty one), so "{name}"
	// would hash only part of this name, or all of the new key: use a tag of the same slot.
	return "{" + slotTag(name) + "}" + suffix
}

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

// slotTag returns a hash tag, free of braces, that hashes to the slot of the whole of name:
// name without its braces, "#" and the first six digits that land in that slot. Six digits
// always do: together they reach every slot whatever comes before them
// (TestSlotTagDigitsReachEverySlot).
func slotTag(name string) string {
	want := crc16(0, name) % clusterSlots
	base := strings.NewReplacer("{", "", "}", "").Replace(name) + "#"
	digits := make([]byte, 0, 6)
	var find func(crc uint16) bool // tries 000000, 000001, ... sharing each prefix's CRC
	find = func(crc uint16) bool {
		if len(digits) == cap(digits) {
			return crc%clusterSlots == want
		}
		for d := byte('0'); d <= '9'; d++ {
			digits = append(digits, d)
			if find(crcByte(crc, d)) {
				return true
			}
			digits = digits[:len(digits)-1]
		}
		return false
	}
	if !find(crc16(0, base)) {
		return name // not reached
	}
	return base + string(digits)
}

// crc16 continues crc over s with the CRC-16/XMODEM that Redis Cluster hashes keys with.
func crc16(crc uint16, s string) uint16 {
	for i := 0; i < len(s); i++ {
		crc = crcByte(crc, s[i])
	}
	return crc
}

func crcByte(crc uint16, b byte) uint16 { return crc<<8 ^ crcTable[byte(crc>>8)^b] }

var crcTable = func() (table [256]uint16) {
	for i := range table {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		table[i] = crc
	}
	return table
}()

// hasHashTag reports whether Redis Cluster would hash only part of name: a "{" followed
// later by a "}" with at least one byte between them.
func hasHashTag(name string) bool {
	open := strings.IndexByte(name, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(name[open+1:], '}')
	return end > 0
}
