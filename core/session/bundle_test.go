package session

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

func TestValidIDMatchesIdentity(t *testing.T) {
	for _, s := range []string{"", "a", "sensor-1", "-a", ".a", "a.b:c_d-e", "a/b", "a b", "ä", "a\x00",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "A9", "9", "a+", "a#", "_x"} {
		if ValidID(s) != identity.ValidID(s) {
			t.Fatalf("%q: %v vs identity %v", s, ValidID(s), identity.ValidID(s))
		}
	}
}

func TestBundleRoundTripAndRejects(t *testing.T) {
	f1 := append([]byte{Version, typeData}, bytes.Repeat([]byte{1}, dataHeaderSize+tagSize)...)
	f2 := append([]byte{Version, typeData}, bytes.Repeat([]byte{2}, dataHeaderSize+tagSize+5)...)
	b, err := EncodeBundle("sensor-1", [][]byte{f1, f2})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := ClaimedSender(b); !ok || s != "sensor-1" {
		t.Fatalf("claimed %q", s)
	}
	s, frames, err := ParseBundle(b)
	if err != nil || s != "sensor-1" || len(frames) != 2 || !bytes.Equal(frames[1], f2) {
		t.Fatalf("%v %q %d", err, s, len(frames))
	}
	if id, ok := FrameSessionID(frames[0]); !ok || id[0] != 1 {
		t.Fatal("session id")
	}
	for name, bad := range map[string][]byte{
		"trailing":                  append(bytes.Clone(b), 0),
		"truncated":                 b[:len(b)-1],
		"count 0":                   {Version, typeBundle, 1, 'a', 0},
		"count too large for input": append([]byte{Version, typeBundle, 1, 'a', 200}, make([]byte, 100)...),
		"bad id":                    append([]byte{Version, typeBundle, 1, '-', 1, 0, byte(len(f1))}, f1...),
		"version":                   append([]byte{2}, b[1:]...),
	} {
		if _, _, err := ParseBundle(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := EncodeBundle("bad id", [][]byte{f1}); !errors.Is(err, ErrMalformed) {
		t.Fatal("encode with a bad id")
	}
}
