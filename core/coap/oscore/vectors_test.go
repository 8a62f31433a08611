package oscore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// appendixC holds RFC 8613 Appendix C, keyed by section ("C.4").
type appendixC map[string]map[string][]byte

func loadAppendixC(t testing.TB) appendixC {
	t.Helper()
	raw, err := os.ReadFile("../../../testdata/oscore/rfc8613-appendix-c.json")
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var doc map[string][2]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	out := appendixC{}
	for sec, v := range doc {
		var rows [][]any
		if err := json.Unmarshal(v[1], &rows); err != nil {
			t.Fatalf("parse %s rows: %v", sec, err)
		}
		fields := map[string][]byte{}
		for _, r := range rows {
			name, _ := r[0].(string)
			val, _ := r[1].(string)
			if !strings.HasPrefix(val, "0x") {
				continue
			}
			b, err := hex.DecodeString(val[2:])
			if err != nil {
				t.Fatalf("%s %s: %v", sec, name, err)
			}
			fields[name] = b
		}
		out[sec] = fields
	}
	return out
}

func (a appendixC) get(t testing.TB, sec, field string) []byte {
	t.Helper()
	v, ok := a[sec][field]
	if !ok {
		t.Fatalf("vector %s has no field %q", sec, field)
	}
	return v
}

func decodeCoAP(t testing.TB, b []byte) message.Message {
	t.Helper()
	m := message.Message{Options: make(message.Options, 0, 16)}
	if _, err := coder.DefaultCoder.Decode(b, &m); err != nil {
		t.Fatalf("decode CoAP %x: %v", b, err)
	}
	return m
}

func encodeCoAP(t testing.TB, m message.Message) []byte {
	t.Helper()
	n, _ := coder.DefaultCoder.Size(m)
	buf := make([]byte, n)
	n, err := coder.DefaultCoder.Encode(m, buf)
	if err != nil {
		t.Fatalf("encode CoAP: %v", err)
	}
	return buf[:n]
}

// TestAppendixCKeyDerivation checks C.1-C.3: info encodings, keys, Common IV and nonces.
func TestAppendixCKeyDerivation(t *testing.T) {
	v := loadAppendixC(t)
	for _, sec := range []string{"C.1.1", "C.1.2", "C.2.1", "C.2.2", "C.3.1", "C.3.2"} {
		t.Run(sec, func(t *testing.T) {
			f := v[sec]
			p := Params{
				MasterSecret: f["Master Secret"], MasterSalt: f["Master Salt"],
				IDContext: f["ID Context"], SenderID: f["Sender ID"], RecipientID: f["Recipient ID"],
			}
			for name, want := range map[string][]byte{
				"info (for Sender Key)":    mustInfo(t, p.SenderID, p.IDContext, "Key", 16),
				"info (for Recipient Key)": mustInfo(t, p.RecipientID, p.IDContext, "Key", 16),
				"info (for Common IV)":     mustInfo(t, []byte{}, p.IDContext, "IV", 13),
			} {
				if got := v.get(t, sec, name); !bytes.Equal(got, want) {
					t.Errorf("%s = %x, want %x", name, want, got)
				}
			}
			c, err := NewContext(p)
			if err != nil {
				t.Fatal(err)
			}
			check := map[string][]byte{
				"Sender Key":      c.senderKey,
				"Recipient Key":   c.recipientKey,
				"Common IV":       c.commonIV,
				"sender nonce":    c.nonce(c.senderID, []byte{0}),
				"recipient nonce": c.nonce(c.recipientID, []byte{0}),
			}
			for name, got := range check {
				if want := v.get(t, sec, name); !bytes.Equal(got, want) {
					t.Errorf("%s = %x, want %x", name, got, want)
				}
			}
		})
	}
}

func mustInfo(t *testing.T, id, idc []byte, typ string, l int) []byte {
	t.Helper()
	b, err := hkdfInfo(id, idc, AlgAESCCM16_64_128, typ, l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// requestVector pairs a protected-request section with the context section of
// the client that produced it and of the server that receives it.
var requestVectors = []struct{ sec, client, server string }{
	{"C.4", "C.1.1", "C.1.2"},
	{"C.5", "C.2.1", "C.2.2"},
	{"C.6", "C.3.1", "C.3.2"},
}

func vectorContext(t testing.TB, v appendixC, sec string, seq uint64, fresh bool) *Context {
	t.Helper()
	f := v[sec]
	c, err := NewContext(Params{
		MasterSecret: f["Master Secret"], MasterSalt: f["Master Salt"], IDContext: f["ID Context"],
		SenderID: f["Sender ID"], RecipientID: f["Recipient ID"],
		Sequence: NewMemorySeqStore(seq), SeqBlock: 1, FreshReplayWindow: fresh,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAppendixCRequests checks C.4-C.6 byte for byte, and that the server side
// recovers the original request from the protected bytes.
func TestAppendixCRequests(t *testing.T) {
	v := loadAppendixC(t)
	for _, tc := range requestVectors {
		t.Run(tc.sec, func(t *testing.T) {
			client := vectorContext(t, v, tc.client, 20, false)
			plain := v.get(t, tc.sec, "Unprotected CoAP request")
			wantProt := v.get(t, tc.sec, "Protected CoAP request (OSCORE message)")
			m := decodeCoAP(t, plain)
			pt, err := plaintext(m.Code, innerOf(m.Options), m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if want := v.get(t, tc.sec, "plaintext"); !bytes.Equal(pt, want) {
				t.Errorf("plaintext = %x, want %x", pt, want)
			}
			aad, _ := client.aad(client.senderID, []byte{0x14})
			if want := v.get(t, tc.sec, "AAD"); !bytes.Equal(aad, want) {
				t.Errorf("AAD = %x, want %x", aad, want)
			}
			if want := v.get(t, tc.sec, "nonce"); !bytes.Equal(client.nonce(client.senderID, []byte{0x14}), want) {
				t.Errorf("nonce mismatch")
			}
			prot, _, err := client.ProtectRequest(m)
			if err != nil {
				t.Fatal(err)
			}
			if want := v.get(t, tc.sec, "ciphertext"); !bytes.Equal(prot.Payload, want) {
				t.Errorf("ciphertext = %x, want %x", prot.Payload, want)
			}
			if got := encodeCoAP(t, prot); !bytes.Equal(got, wantProt) {
				t.Errorf("protected = %x\nwant        %x", got, wantProt)
			}

			server := vectorContext(t, v, tc.server, 0, true)
			inner, ex, err := server.UnprotectRequest(decodeCoAP(t, wantProt))
			if err != nil {
				t.Fatalf("unprotect: %v", err)
			}
			if got := encodeCoAP(t, inner); !bytes.Equal(got, plain) {
				t.Errorf("unprotected = %x\nwant          %x", got, plain)
			}
			if !bytes.Equal(ex.requestPIV, []byte{0x14}) || !bytes.Equal(ex.requestKID, client.senderID) {
				t.Errorf("exchange kid/piv = %x/%x", ex.requestKID, ex.requestPIV)
			}
		})
	}
}

func innerOf(opts message.Options) message.Options {
	var out message.Options
	for _, o := range opts {
		if classOf(o.ID)&classE != 0 {
			out = append(out, o)
		}
	}
	return out
}

// TestAppendixCResponses checks C.7 (request nonce reused) and C.8 (own Partial
// IV 0x00) byte for byte, and the client's unprotect of each.
func TestAppendixCResponses(t *testing.T) {
	v := loadAppendixC(t)
	for _, tc := range []struct {
		sec    string
		ownPIV bool
	}{{"C.7", false}, {"C.8", true}} {
		t.Run(tc.sec, func(t *testing.T) {
			server := vectorContext(t, v, "C.1.2", 0, true)
			client := vectorContext(t, v, "C.1.1", 20, false)
			// The response answers C.4's request: run it through the server first.
			_, ex, err := server.UnprotectRequest(decodeCoAP(t, v.get(t, "C.4", "Protected CoAP request (OSCORE message)")))
			if err != nil {
				t.Fatal(err)
			}
			plain := v.get(t, tc.sec, "Unprotected CoAP response")
			wantProt := v.get(t, tc.sec, "Protected CoAP response (OSCORE message)")
			prot, err := server.ProtectResponse(decodeCoAP(t, plain), ex, tc.ownPIV)
			if err != nil {
				t.Fatal(err)
			}
			if want := v.get(t, tc.sec, "ciphertext"); !bytes.Equal(prot.Payload, want) {
				t.Errorf("ciphertext = %x, want %x", prot.Payload, want)
			}
			if got := encodeCoAP(t, prot); !bytes.Equal(got, wantProt) {
				t.Errorf("protected = %x\nwant        %x", got, wantProt)
			}
			_, cex, err := client.ProtectRequest(decodeCoAP(t, v.get(t, "C.4", "Unprotected CoAP request")))
			if err != nil {
				t.Fatal(err)
			}
			inner, err := client.UnprotectResponse(decodeCoAP(t, wantProt), cex)
			if err != nil {
				t.Fatalf("unprotect: %v", err)
			}
			if got := encodeCoAP(t, inner); !bytes.Equal(got, plain) {
				t.Errorf("unprotected = %x\nwant          %x", got, plain)
			}
		})
	}
}
