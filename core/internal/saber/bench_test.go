package saber

import (
	"crypto/rand"
	"testing"
)

func BenchmarkKeyGen(b *testing.B) {
	for _, p := range allParams {
		b.Run(p.Name(), func(b *testing.B) {
			seed := make([]byte, KeySeedSize)
			rand.Read(seed)
			for b.Loop() {
				if _, _, err := p.KeyFromSeed(seed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncaps(b *testing.B) {
	for _, p := range allParams {
		b.Run(p.Name(), func(b *testing.B) {
			pk, _, _ := p.GenerateKey(nil)
			r := make([]byte, EncapsSeedSize)
			rand.Read(r)
			for b.Loop() {
				if _, _, err := p.EncapsulateDeterministic(pk, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecaps(b *testing.B) {
	for _, p := range allParams {
		b.Run(p.Name(), func(b *testing.B) {
			pk, sk, _ := p.GenerateKey(nil)
			ct, _, _ := p.Encapsulate(pk, nil)
			for b.Loop() {
				if _, err := p.Decapsulate(sk, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
