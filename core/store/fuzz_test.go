package store

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// FuzzOpenRecord feeds arbitrary bytes to the record decoder as if they were
// a stored record. It must never panic, and must accept only what was
// sealed under the same key and associated data.
func FuzzOpenRecord(f *testing.F) {
	aead, _ := chacha20poly1305.NewX(testRawKey)
	id := bytes.Repeat([]byte{9}, storeIDSize)
	good := seal(aead, adRecord(id, 7, "peer/x"), []byte("value"))
	f.Add(good, uint64(7), "peer/x")
	f.Add(good[:len(good)-1], uint64(7), "peer/x")
	f.Add(good, uint64(8), "peer/x")
	f.Add(good, uint64(7), "peer/y")
	f.Add([]byte{}, uint64(0), "")
	f.Add([]byte{1}, uint64(0), "a")
	f.Add(make([]byte, sealOverhead), uint64(0), "a")
	f.Fuzz(func(t *testing.T, blob []byte, gen uint64, name string) {
		pt, err := openSealed(aead, adRecord(id, gen, name), blob)
		if err == nil {
			// good is sealed afresh (random nonce) in each fuzzing process,
			// so compare what was authenticated rather than the bytes.
			if gen != 7 || name != "peer/x" || string(pt) != "value" {
				t.Fatalf("accepted a forged record: %x gen=%d name=%q", blob, gen, name)
			}
		}
	})
}

// FuzzDecodeState covers the decoder for the state record's plaintext. It is
// only reached after authentication, but a decoder that can panic or
// allocate without bound is a bug waiting for a key compromise.
func FuzzDecodeState(f *testing.F) {
	st := &state{flags: flagAnchored, gen: 9,
		counters: map[string]uint64{"a": 1, "b": 2},
		records:  map[string]uint64{"r": 3, "s": 9}}
	f.Add(st.marshal())
	f.Add((&state{counters: map[string]uint64{}, records: map[string]uint64{}}).marshal())
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b)
		if err != nil {
			return
		}
		// Accepted input must be canonical: re-encoding gives the same bytes.
		if !bytes.Equal(s.marshal(), b) {
			t.Fatalf("non-canonical state accepted: %x", b)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	h := &header{kdf: kdfArgon2id, argon: *testArgon}
	f.Add(h.marshal())
	f.Add((&header{kdf: kdfRaw}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err == nil && !bytes.Equal(h.marshal(), b) {
			t.Fatalf("header does not round-trip: %x", b)
		}
	})
}
