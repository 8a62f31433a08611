package session

import (
	"fmt"
	"testing"
)

// BenchmarkProtectUnprotect64Append is the data path with the append
// forms and reused buffers: what remains allocated is the AES and GCM key
// schedules of the two chain steps and the two message keys.
func BenchmarkProtectUnprotect64Append(b *testing.B) {
	l := newLink(b, func(c *Config) { c.HardCap = 1 << 31 })
	p := l.f.policy
	p.Sequence, p.RekeyMessages, p.RekeySeconds = 2, 0, 0
	l.f.applyPolicy(b, p, l.a.trust, l.b.trust)
	msg := make([]byte, 64)
	var frame, pt []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if frame, err = l.sa.AppendProtect(frame[:0], msg); err != nil {
			b.Fatal(err)
		}
		if pt, err = l.sb.AppendUnprotect(pt[:0], frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtectPersistentParallel is Protect from 8 goroutines on one
// session that persists itself (Resume over a real keystore, the default
// reservation of 64, and the MQTT codec's 1024): the reservation writes, each a keystore transaction
// with its fsync, are what the publishers must not wait for.
//
//	go test -run '^$' -bench ProtectPersistentParallel -benchtime 20000x ./core/session/
func BenchmarkProtectPersistentParallel(b *testing.B) {
	for _, reserve := range []uint32{64, 1024} {
		b.Run(fmt.Sprintf("reserve=%d", reserve), func(b *testing.B) { benchPersistentParallel(b, reserve) })
	}
}

func benchPersistentParallel(b *testing.B, reserve uint32) {
	l := newLink(b, func(c *Config) { c.Resume, c.HardCap, c.SoftCap, c.SnapshotReserve = true, 1<<31, 1<<30, reserve })
	p := l.f.policy
	p.Sequence, p.RekeyMessages, p.RekeySeconds = 2, 0, 0
	l.f.applyPolicy(b, p, l.a.trust, l.b.trust)
	b.SetParallelism(4) // 8 goroutines on 2 cores, as the MQTT benchmark's publishers
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		msg := make([]byte, 64)
		for pb.Next() {
			if _, err := l.sa.Protect(msg); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
