package oscore

import (
	"bytes"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
)

// FuzzParseOption: the option parser never panics, and whatever it accepts
// re-encodes to the same bytes (the encoding is canonical).
func FuzzParseOption(f *testing.F) {
	for _, seed := range [][]byte{{}, {0x09, 0x14}, {0x09, 0x14, 0x00}, {0x19, 0x14, 0x08, 0x37, 0xcb, 0xf3, 0x21, 0x00, 0x17, 0xa2, 0xd3}, {0x01, 0x00}, {0x0e}, {0x11, 0x14, 0x05}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ov, err := ParseOption(in)
		if err != nil {
			return
		}
		out, err := ov.Encode()
		if err != nil {
			t.Fatalf("accepted %x but cannot re-encode: %v", in, err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("re-encoding of %x is %x", in, out)
		}
	})
}

// FuzzUnprotectRequest: arbitrary option values and payloads never panic and
// never get past the AEAD unless they are the genuine message.
func FuzzUnprotectRequest(f *testing.F) {
	cp, sp := pairParams(true)
	client, err := NewContext(cp)
	if err != nil {
		f.Fatal(err)
	}
	genuine, _, err := client.ProtectRequest(getHello())
	if err != nil {
		f.Fatal(err)
	}
	gopt, _ := genuine.Options.GetBytes(OptionNumber)
	f.Add(gopt, genuine.Payload)
	f.Add([]byte{0x09, 0x00, 0x01}, []byte{})
	f.Add([]byte{}, bytes.Repeat([]byte{0xff}, 20))
	f.Fuzz(func(t *testing.T, opt, payload []byte) {
		server, err := NewContext(sp)
		if err != nil {
			t.Fatal(err)
		}
		m := message.Message{Code: genuine.Code, Token: genuine.Token, Payload: payload,
			Options: message.Options{{ID: OptionNumber, Value: opt}}}
		inner, _, err := server.UnprotectRequest(m)
		if err == nil && !(bytes.Equal(opt, gopt) && bytes.Equal(payload, genuine.Payload)) {
			t.Fatalf("forged request accepted: %v", inner)
		}
	})
}

// FuzzDecodeOptions: the inner option decoder never panics and round-trips
// what it accepts.
func FuzzDecodeOptions(f *testing.F) {
	f.Add([]byte{0xb5, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0xd1, 0x0e, 0x01, 0xff, 'x'})
	f.Add([]byte{0xe0, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		opts, payload, err := decodeOptions(in)
		if err != nil {
			return
		}
		enc, err := encodeOptions(opts)
		if err != nil {
			return // e.g. values longer than go-coap's encoder allows
		}
		if len(payload) > 0 {
			enc = append(append(enc, 0xff), payload...)
		}
		again, p2, err := decodeOptions(enc)
		if err != nil || len(again) != len(opts) || !bytes.Equal(p2, payload) {
			t.Fatalf("round trip of %x failed: %v", in, err)
		}
	})
}
