package store

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// On-disk layout (bbolt file):
//
//	bucket "meta":
//	  "header"  plaintext, 51 bytes: magic "PQCSTORE", version, store id,
//	            KDF kind, Argon2id parameters, salt. Authenticated indirectly:
//	            it is the associated data of the key-check record, and any
//	            change to it changes the derived key.
//	  "check"   sealed known value; opens only under the right key.
//	  "state"   sealed: generation, flags, every counter, and the index of
//	            record names with the generation each was last written at.
//	bucket "records":
//	  HMAC(name key, name) -> sealed value, AD binds store id, name and the
//	  generation recorded in the index.
//
// Counters live inside the single state record rather than as records of
// their own: per-record AEAD alone would let someone put back an older
// ciphertext of the same counter. With one sealed state, rolling back any
// counter means rolling back the generation, which the anchor detects.
// The index does the same for records: an older ciphertext of a record
// carries an older generation in its AD and fails to open.

const (
	formatVersion = 1
	keySize       = chacha20poly1305.KeySize
	storeIDSize   = 16
	saltSize      = 16
	headerSize    = 8 + 1 + storeIDSize + 1 + 4 + 4 + 1 + saltSize

	// MaxNameLen bounds record and counter names.
	MaxNameLen = 255
	// MaxValueLen bounds a record's value.
	MaxValueLen = 16 << 20

	sealOverhead = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

const headerMagic = "PQCSTORE"

var (
	bucketMeta    = []byte("meta")
	bucketRecords = []byte("records")
	keyHeader     = []byte("header")
	keyCheck      = []byte("check")
	keyState      = []byte("state")

	checkValue = []byte("pqc-iiot keystore key check v1")
)

type header struct {
	storeID [storeIDSize]byte
	kdf     byte
	argon   Argon2Params
	salt    [saltSize]byte
}

func (h *header) marshal() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, headerMagic...)
	b = append(b, formatVersion)
	b = append(b, h.storeID[:]...)
	b = append(b, h.kdf)
	b = binary.BigEndian.AppendUint32(b, h.argon.Time)
	b = binary.BigEndian.AppendUint32(b, h.argon.MemoryKiB)
	b = append(b, h.argon.Threads)
	b = append(b, h.salt[:]...)
	return b
}

func parseHeader(b []byte) (*header, error) {
	if len(b) != headerSize || string(b[:8]) != headerMagic {
		return nil, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	if b[8] != formatVersion {
		return nil, fmt.Errorf("%w: unsupported format version %d", ErrCorrupt, b[8])
	}
	h := new(header)
	p := b[9:]
	copy(h.storeID[:], p)
	p = p[storeIDSize:]
	h.kdf = p[0]
	h.argon.Time = binary.BigEndian.Uint32(p[1:])
	h.argon.MemoryKiB = binary.BigEndian.Uint32(p[5:])
	h.argon.Threads = p[9]
	copy(h.salt[:], p[10:])
	switch h.kdf {
	case kdfArgon2id:
		if err := h.argon.validate(); err != nil {
			return nil, fmt.Errorf("%w: header: %w", ErrCorrupt, err)
		}
	case kdfRaw:
		if h.argon != (Argon2Params{}) {
			return nil, fmt.Errorf("%w: header: KDF parameters on a raw-key store", ErrCorrupt)
		}
	default:
		return nil, fmt.Errorf("%w: header: unknown KDF %d", ErrCorrupt, h.kdf)
	}
	return h, nil
}

// subkeys splits the master key into an AEAD key and a name-hiding key, so
// neither use of the key can leak into the other.
func subkeys(master []byte, storeID []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, master, storeID, "pqc-iiot/store/v1/subkeys", 2*keySize)
}

// Associated data. Each starts with a distinct label so that no blob of one
// kind opens as another; the variable-length part comes last so that the
// concatenation is unambiguous.
func adCheck(hdr []byte) []byte {
	return append([]byte("pqc-iiot/store/v1/check\x00"), hdr...)
}

func adState(id []byte) []byte {
	return append([]byte("pqc-iiot/store/v1/state\x00"), id...)
}

func adRecord(id []byte, gen uint64, name string) []byte {
	b := append([]byte("pqc-iiot/store/v1/record\x00"), id...)
	b = binary.BigEndian.AppendUint64(b, gen)
	return append(b, name...)
}

// nameKey hides record names in the file: names such as "peer/<device id>"
// would otherwise tell a thief which peers a device trusts.
func nameKey(key []byte, name string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pqc-iiot/store/v1/name\x00"))
	m.Write([]byte(name))
	return m.Sum(nil)
}

// seal produces version || 24-byte random nonce || ciphertext || tag.
// XChaCha20-Poly1305 rather than AES-GCM because nonces are random and a
// device writes for years: 192-bit nonces make collisions a non-issue
// without keeping a nonce counter that could itself roll back.
func seal(aead cipher.AEAD, ad, plaintext []byte) []byte {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, sealOverhead+len(plaintext))
	out[0] = formatVersion
	rand.Read(out[1:])
	return aead.Seal(out, out[1:], plaintext, ad)
}

// openSealed is the record decoder: any input, however malformed, yields
// either the plaintext or ErrCorrupt.
func openSealed(aead cipher.AEAD, ad, blob []byte) ([]byte, error) {
	if len(blob) < sealOverhead {
		return nil, fmt.Errorf("%w: sealed blob too short (%d bytes)", ErrCorrupt, len(blob))
	}
	if blob[0] != formatVersion {
		return nil, fmt.Errorf("%w: unknown blob version %d", ErrCorrupt, blob[0])
	}
	nonce := blob[1 : 1+chacha20poly1305.NonceSizeX]
	pt, err := aead.Open(nil, nonce, blob[1+len(nonce):], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrCorrupt)
	}
	return pt, nil
}

const flagAnchored = 1 << 0

// state is everything whose rollback must be detectable as a whole.
type state struct {
	flags    byte
	gen      uint64
	counters map[string]uint64
	records  map[string]uint64 // name -> generation of its current ciphertext
}

func (s *state) clone() *state {
	c := *s
	c.counters = maps.Clone(s.counters)
	c.records = maps.Clone(s.records)
	return &c
}

// marshal is canonical: sorted names, so equal states encode equally.
func (s *state) marshal() []byte {
	b := []byte{formatVersion, s.flags}
	b = binary.BigEndian.AppendUint64(b, s.gen)
	for _, m := range []map[string]uint64{s.counters, s.records} {
		b = binary.AppendUvarint(b, uint64(len(m)))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.BigEndian.AppendUint64(b, m[k])
		}
	}
	return b
}

func decodeState(b []byte) (*state, error) {
	bad := func(why string) (*state, error) { return nil, fmt.Errorf("%w: state: %s", ErrCorrupt, why) }
	if len(b) < 10 {
		return bad("too short")
	}
	if b[0] != formatVersion {
		return bad("unknown version")
	}
	s := &state{flags: b[1], gen: binary.BigEndian.Uint64(b[2:10])}
	if s.flags&^flagAnchored != 0 {
		return bad("unknown flags")
	}
	p := b[10:]
	for i := range 2 {
		n, k := uvarint(p)
		if k <= 0 {
			return bad("bad count")
		}
		p = p[k:]
		// Each entry takes at least 1+1+8 bytes; checking before make keeps a
		// forged count from allocating.
		if n > uint64(len(p))/10 {
			return bad("count exceeds data")
		}
		m := make(map[string]uint64, n)
		var prev []byte
		for j := uint64(0); j < n; j++ {
			l, k := uvarint(p)
			if k <= 0 || l == 0 || l > MaxNameLen || uint64(len(p)-k) < l+8 {
				return bad("bad entry")
			}
			name := p[k : k+int(l)]
			if j > 0 && bytes.Compare(prev, name) >= 0 {
				return bad("names not sorted")
			}
			prev = name
			p = p[k+int(l):]
			m[string(name)] = binary.BigEndian.Uint64(p)
			p = p[8:]
		}
		if i == 0 {
			s.counters = m
		} else {
			s.records = m
		}
	}
	if len(p) != 0 {
		return bad("trailing bytes")
	}
	for _, g := range s.records {
		if g > s.gen {
			return bad("record newer than store")
		}
	}
	return s, nil
}

// uvarint rejects non-minimal encodings as well as malformed ones, so that
// one state has exactly one encoding.
func uvarint(p []byte) (uint64, int) {
	v, k := binary.Uvarint(p)
	if k > 0 && k != varintLen(v) {
		return 0, -1
	}
	return v, k
}

func varintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func validName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen {
		return fmt.Errorf("%w: name length %d not in 1..%d", ErrInvalid, len(name), MaxNameLen)
	}
	return nil
}
