package session

import (
	"bytes"
	"testing"
)

// FuzzUnmarshalWindows covers the decoder of the replay windows an Opener
// keeps in the keystore. The record is authenticated by the store, so this
// is defence in depth: no panic, no allocation beyond the input's size, and
// what is accepted must describe valid windows (floor not above top) that
// survive a second round trip unchanged.
func FuzzUnmarshalWindows(f *testing.F) {
	ws := NewWindows()
	for i, id := range []string{"plc-1", "scada-1", "rtu-9"} {
		for seq := range uint64(70 * (i + 1)) {
			ws.Accept(id, seq*3+1)
		}
	}
	ws.SetFloor("rtu-9", 500)
	raw, err := ws.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)-1])
	empty, _ := NewWindows().MarshalBinary()
	f.Add(empty)
	f.Fuzz(func(t *testing.T, data []byte) {
		got := NewWindows()
		if err := got.UnmarshalBinary(data); err != nil {
			return
		}
		for id, w := range got.m {
			if w.floor > w.top {
				t.Fatalf("window of %s accepted with floor %d above top %d", id, w.floor, w.top)
			}
		}
		once, err := got.MarshalBinary()
		if err != nil {
			t.Fatalf("accepted windows do not marshal: %v", err)
		}
		again := NewWindows()
		if err := again.UnmarshalBinary(once); err != nil {
			t.Fatalf("re-encoded windows refused: %v", err)
		}
		twice, _ := again.MarshalBinary()
		if !bytes.Equal(once, twice) {
			t.Fatal("windows change on a second round trip")
		}
	})
}
