package falcon

import (
	"crypto/rand"
	"testing"
)

func benchKeyGen(b *testing.B, p *Params) {
	seed := make([]byte, KeySeedSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		seed[0], seed[1] = byte(i), byte(i>>8)
		if _, _, err := p.KeyFromSeed(seed); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSign(b *testing.B, p *Params) {
	_, sk, err := p.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("benchmark message")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Sign(sk, msg, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, p *Params) {
	pk, sk, err := p.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("benchmark message")
	sig, err := p.Sign(sk, msg, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Verify(pk, msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyGen512(b *testing.B)  { benchKeyGen(b, Falcon512) }
func BenchmarkSign512(b *testing.B)    { benchSign(b, Falcon512) }
func BenchmarkVerify512(b *testing.B)  { benchVerify(b, Falcon512) }
func BenchmarkKeyGen1024(b *testing.B) { benchKeyGen(b, Falcon1024) }
func BenchmarkSign1024(b *testing.B)   { benchSign(b, Falcon1024) }
func BenchmarkVerify1024(b *testing.B) { benchVerify(b, Falcon1024) }
