package oscore

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"strings"
	"testing"
)

// rfc3610Vectors are the packet vectors of RFC 3610 §8 (key, nonce, the number
// of cleartext header bytes used as AAD, input packet, output packet, M).
var rfc3610Vectors = []struct {
	key, nonce    string
	hdr           int
	input, output string
	tagSize       int
}{
	{"C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF", "00000003020100A0A1A2A3A4A5", 8, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E", "0001020304050607588C979A61C663D2F066D0C2C0F989806D5F6B61DAC38417E8D12CFDF926E0", 8},
	{"C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF", "00000004030201A0A1A2A3A4A5", 8, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "000102030405060772C91A36E135F8CF291CA894085C87E3CC15C439C9E43A3BA091D56E10400916", 8},
	{"C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF", "00000005040302A0A1A2A3A4A5", 8, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20", "000102030405060751B1E5F44A197D1DA46B0F8E2D282AE871E838BB64DA8596574ADAA76FBD9FB0C5", 8},
	{"C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF", "00000006050403A0A1A2A3A4A5", 12, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E", "000102030405060708090A0BA28C6865939A9A79FAAA5C4C2A9D4A91CDAC8C96C861B9C9E61EF1", 8},
	{"C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF", "00000009080706A0A1A2A3A4A5", 8, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E", "00010203040506070135D1B2C95F41D5D1D4FEC185D166B8094E999DFED96C048C56602C97ACBB7490", 10},
	{"C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF", "0000000E0D0C0BA0A1A2A3A4A5", 12, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20", "000102030405060708090A0BC0FFA0D6F05BDB67F24D43A4338D2AA4BED7B20E43CD1AA31662E7AD65D6DB", 10},
	{"D7828D13B2B0BDC325A76236DF93CC6B", "00412B4EA9CDBE3C9696766CFA", 8, "0BE1A88BACE018B108E8CF97D820EA258460E96AD9CF5289054D895CEAC47C", "0BE1A88BACE018B14CB97F86A2A4689A877947AB8091EF5386A6FFBDD080F8E78CF7CB0CDDD7B3", 8},
	{"D7828D13B2B0BDC325A76236DF93CC6B", "00D560912D3F703C9696766CFA", 12, "CD9044D2B71FDB8120EA60C06435ACBAFB11A82E2F071D7CA4A5EBD93A803BA87F", "CD9044D2B71FDB8120EA60C0009769ECABDF48625594C59251E6035722675E04C847099E5AE0704551", 8},
	{"D7828D13B2B0BDC325A76236DF93CC6B", "008D493B30AE8B3C9696766CFA", 12, "6E37A6EF546D955D34AB6059ABF21C0B02FEB88F856DF4A37381BCE3CC128517D4", "6E37A6EF546D955D34AB6059F32905B88A641B04B9C9FFB58CC390900F3DA12AB16DCE9E82EFA16DA62059", 10},
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCCMRFC3610(t *testing.T) {
	for i, v := range rfc3610Vectors {
		block, err := aes.NewCipher(unhex(t, v.key))
		if err != nil {
			t.Fatal(err)
		}
		aead, err := NewCCM(block, v.tagSize, 13)
		if err != nil {
			t.Fatal(err)
		}
		nonce, in, out := unhex(t, v.nonce), unhex(t, v.input), unhex(t, v.output)
		ad, pt := in[:v.hdr], in[v.hdr:]
		ct := aead.Seal(nil, nonce, pt, ad)
		if !bytes.Equal(ct, out[v.hdr:]) {
			t.Errorf("vector %d: seal = %X, want %X", i, ct, out[v.hdr:])
		}
		got, err := aead.Open(nil, nonce, out[v.hdr:], ad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("vector %d: open = %X, %v", i, got, err)
		}
	}
}

func TestCCMRejectsTampering(t *testing.T) {
	block, _ := aes.NewCipher(make([]byte, 16))
	aead, _ := NewCCM(block, 8, 13)
	nonce, ad := make([]byte, 13), []byte("header")
	ct := aead.Seal(nil, nonce, []byte("plaintext"), ad)
	tests := []struct {
		name          string
		nonce, ct, ad []byte
	}{
		{"flipped ciphertext bit", nonce, flip(ct, 0), ad},
		{"flipped tag bit", nonce, flip(ct, len(ct)-1), ad},
		{"other AAD", nonce, ct, []byte("Header")},
		{"other nonce", flip(nonce, 12), ct, ad},
		{"truncated below tag", nonce, ct[:7], ad},
		{"tag only, wrong", nonce, make([]byte, 8), ad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if pt, err := aead.Open(nil, tc.nonce, tc.ct, tc.ad); err == nil {
				t.Fatalf("accepted, plaintext %q", pt)
			}
		})
	}
	if _, err := aead.Open(nil, nonce[:12], ct, ad); err == nil {
		t.Fatal("accepted a short nonce")
	}
}

func TestCCMParameters(t *testing.T) {
	block, _ := aes.NewCipher(make([]byte, 16))
	for _, tc := range []struct {
		tag, nonce int
		ok         bool
	}{{8, 13, true}, {16, 7, true}, {4, 13, true}, {3, 13, false}, {9, 13, false}, {18, 13, false}, {8, 6, false}, {8, 14, false}} {
		if _, err := NewCCM(block, tc.tag, tc.nonce); (err == nil) != tc.ok {
			t.Errorf("NewCCM(tag %d, nonce %d): err %v, want ok=%v", tc.tag, tc.nonce, err, tc.ok)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x01
	return c
}
