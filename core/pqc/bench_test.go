package pqc

import "testing"

// Benchmarks for every registered scheme: go test -bench . ./core/pqc
// (make bench collects them with the C ABI figures).

func BenchmarkKEM(b *testing.B) {
	for _, name := range KEMNames() {
		k, _ := KEMByName(name)
		pk, sk, _ := k.GenerateKey(nil)
		ct, _, _ := k.Encapsulate(pk, nil)
		b.Run(name+"/keygen", func(b *testing.B) {
			for b.Loop() {
				k.GenerateKey(nil)
			}
		})
		b.Run(name+"/encaps", func(b *testing.B) {
			for b.Loop() {
				k.Encapsulate(pk, nil)
			}
		})
		b.Run(name+"/decaps", func(b *testing.B) {
			for b.Loop() {
				k.Decapsulate(sk, ct)
			}
		})
	}
}

func BenchmarkSignature(b *testing.B) {
	msg := make([]byte, 64)
	for _, name := range SignatureNames() {
		s, _ := SignatureByName(name)
		pk, sk, _ := s.GenerateKey(nil)
		sig, _ := s.Sign(sk, msg)
		b.Run(name+"/keygen", func(b *testing.B) {
			for b.Loop() {
				s.GenerateKey(nil)
			}
		})
		b.Run(name+"/sign", func(b *testing.B) {
			for b.Loop() {
				s.Sign(sk, msg)
			}
		})
		b.Run(name+"/verify", func(b *testing.B) {
			for b.Loop() {
				s.Verify(pk, msg, sig)
			}
		})
	}
}
