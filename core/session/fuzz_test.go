package session

import (
	"bytes"
	"testing"
)

// go test -run '^$' -fuzz FuzzUnprotect -fuzztime 30s ./core/session/

func FuzzOpenSealed(f *testing.F) {
	fl := newFleet(f)
	a, b := fl.pair(f)
	s, rcpt := sealFor(f, fl, a, b)
	s.seq, s.cfg.Volatile = nil, true
	genuine, _ := s.Seal(rcpt, topic, []byte("seed"))
	f.Add(genuine)
	f.Add(genuine[:60])
	f.Add([]byte{Version, typeSealed})
	cfg := fl.cfg(b)
	cfg.Store, cfg.Budget, cfg.Volatile = nil, nil, true
	f.Fuzz(func(t *testing.T, frame []byte) {
		o, _ := NewOpener(cfg)
		got, err := o.Open(frame, topic)
		if err == nil && !bytes.Equal(frame, genuine) {
			t.Fatalf("accepted a frame that is not the one sealed: %x", got.Plaintext)
		}
	})
}

func FuzzHandleHandshake(f *testing.F) {
	l := newLink(f, nil)
	l.ma.cfg.Store, l.mb.cfg.Store = nil, nil
	l.ma.cfg.Volatile, l.mb.cfg.Volatile = true, true
	init, _ := l.ma.Initiate(l.b.id, dataTopic)
	resp, _, _ := l.mb.HandleHandshake(init)
	f.Add(init)
	f.Add(resp)
	f.Add(init[:100])
	f.Fuzz(func(t *testing.T, frame []byte) {
		// Either side may get anything; neither may panic or accept a
		// forgery. (The genuine Init and Response are the only frames
		// that can succeed.)
		if _, s, err := l.mb.HandleHandshake(frame); err == nil && s != nil && !bytes.Equal(frame, init) {
			t.Fatal("responder accepted a modified Init")
		}
		if _, s, err := l.ma.HandleHandshake(frame); err == nil && s != nil && !bytes.Equal(frame, resp) {
			t.Fatal("initiator accepted a modified Response")
		}
	})
}

func FuzzUnprotect(f *testing.F) {
	l := newLink(f, nil)
	send(f, l.sa, l.sb, "1")
	send(f, l.sb, l.sa, "2")
	seeds := [][]byte{}
	for range 3 {
		fr, _ := l.sa.Protect([]byte("seed"))
		seeds = append(seeds, fr)
		f.Add(fr)
	}
	f.Add(seeds[0][:dataHeaderSize])
	f.Fuzz(func(t *testing.T, frame []byte) {
		before := snap(l.sb)
		if _, err := l.sb.Unprotect(frame); err != nil && snap(l.sb) != before {
			t.Fatal("a rejected frame changed the session")
		}
	})
}

func FuzzUnmarshalSession(f *testing.F) {
	l := newLink(f, nil)
	send(f, l.sa, l.sb, "1")
	raw, _ := l.sb.MarshalBinary()
	f.Add(raw)
	f.Add(raw[:50])
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Session{}
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		if _, err := s.marshal(); err != nil {
			t.Fatalf("restored snapshot does not marshal: %v", err)
		}
	})
}
