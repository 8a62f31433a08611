package saber

import "testing"

func BenchmarkNTTForward(b *testing.B) {
	var f nttPoly
	for i := range f {
		f[i] = int64(i * 31 % 8192)
	}
	for b.Loop() {
		g := f
		g.forward()
	}
}

func BenchmarkNTTInverse(b *testing.B) {
	var f nttPoly
	for i := range f {
		f[i] = int64(i * 31 % 8192)
	}
	for b.Loop() {
		g := f
		g.inverse()
	}
}

func BenchmarkCBD(b *testing.B) {
	buf := make([]byte, 10*n/8)
	for i := range buf {
		buf[i] = byte(i * 37)
	}
	var s [n]uint16
	for b.Loop() {
		sampleCBD(&s, buf, 8)
	}
}

func BenchmarkMatrixSaber(b *testing.B) {
	var s, acc [maxL]nttPoly
	seed := make([]byte, 32)
	for b.Loop() {
		Saber.matrixMulAcc(acc[:3], s[:3], seed, false)
	}
}
