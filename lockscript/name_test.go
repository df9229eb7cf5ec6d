package lockscript

import "testing"

func TestCRC16(t *testing.T) {
	// The check value of CRC-16/XMODEM, and two slots Redis reports (CLUSTER KEYSLOT).
	for s, want := range map[string]uint16{"123456789": 0x31c3} {
		if got := crc16(0, s); got != want {
			t.Errorf("crc16(%q) = %#x, want %#x", s, got, want)
		}
	}
	for s, want := range map[string]uint16{"a{}b": 13694, "x}y": 8210, "foo": 12182} {
		if got := crc16(0, s) % clusterSlots; got != want {
			t.Errorf("slot of %q = %d, want %d", s, got, want)
		}
	}
}

// TestSlotTagDigitsReachEverySlot proves slotTag always finds its digits. CRC-16/XMODEM is
// linear: crc(head, digits) = crc(head, "\0"×6) XOR crc(0, digits). So whatever comes before
// them, six digits reach every slot exactly when crc(0, digits) takes every value modulo
// 16384 over 000000..999999.
func TestSlotTagDigitsReachEverySlot(t *testing.T) {
	var seen [clusterSlots]bool
	n := 0
	var walk func(crc uint16, depth int) // every digit string of length 6, sharing prefixes
	walk = func(crc uint16, depth int) {
		if depth == 6 {
			if s := crc % clusterSlots; !seen[s] {
				seen[s] = true
				n++
			}
			return
		}
		for d := range 10 {
			walk(crc16(crc, string(rune('0'+d))), depth+1)
		}
	}
	walk(0, 0)
	if n != clusterSlots {
		t.Fatalf("six digits reach %d of %d slots", n, clusterSlots)
	}
}
