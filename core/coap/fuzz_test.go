package coap

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseSigned: the signed-mode envelope decoder never panics and
// accepts only the exact header set it documents.
func FuzzParseSigned(f *testing.F) {
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Add([]byte{0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x41, 0x00, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSigned(data, 1<<16)
		if err != nil {
			return
		}
		if len(s.keyID) != 16 || s.seq == 0 || s.sender == "" {
			t.Fatalf("accepted header %+v", s)
		}
	})
}

// FuzzParseEnvelope: the session-mode plaintext decoder never panics and
// splits exactly.
func FuzzParseEnvelope(f *testing.F) {
	f.Add(make([]byte, envHeaderSize))
	f.Add(append([]byte{1, 1, 0, 50, 2}, make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, _, sum, payload, err := parseEnvelope(data)
		if err != nil {
			return
		}
		if len(sum) != 32 || len(payload) != len(data)-envHeaderSize || cf > 0xffff {
			t.Fatalf("bad split: cf %d sum %d payload %d of %d", cf, len(sum), len(payload), len(data))
		}
	})
}

// FuzzBlock1: any sequence of (block number, more, size) never assembles a
// body over the limit or out of order, and never panics.
func FuzzBlock1(f *testing.F) {
	f.Add([]byte{0, 1, 4, 1, 1, 4, 2, 0, 3})
	f.Add([]byte{1, 1, 4, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const limit = 3000
		tr := newTransfers(limit, time.Minute, time.Now)
		var want []byte
		next := int64(0)
		for i := 0; i+2 < len(ops); i += 3 {
			num, more := int64(ops[i]%5), ops[i+1]%2 == 1
			size := int(ops[i+2]) * 8
			if more {
				size = blockSize
			}
			part := bytes.Repeat([]byte{byte(i)}, size)
			body, done, fail := tr.addBlock1("k", num, more, part)
			inOrder := num == next || num == 0
			switch {
			case fail != 0:
				want, next = nil, 0
			case !inOrder:
				t.Fatalf("block %d accepted, expected %d", num, next)
			case done:
				if num == 0 {
					want = nil
				}
				want = append(want, part...)
				if !bytes.Equal(body, want) || len(body) > limit {
					t.Fatalf("assembled %d bytes, want %d", len(body), len(want))
				}
				want, next = nil, 0
			default:
				if num == 0 {
					want = nil
				}
				want, next = append(want, part...), num+1
			}
		}
	})
}
