package session

import (
	"bytes"
	"errors"
	"testing"
)

// Both ends of a session export the same keys; labels, contexts and
// sessions separate them; ratchet steps do not change them; a snapshot
// keeps them; a closed session exports nothing.
func TestExport(t *testing.T) {
	l := newLink(t, nil)
	a, err := l.sa.Export("OSCORE Master Secret", nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.sb.Export("OSCORE Master Secret", nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || len(a) != 16 {
		t.Fatalf("ends disagree: %x vs %x", a, b)
	}
	salt, _ := l.sa.Export("OSCORE Master Salt", nil, 8)
	ctx, _ := l.sa.Export("OSCORE Master Secret", []byte{1}, 16)
	if bytes.Equal(salt, a[:8]) || bytes.Equal(ctx, a) {
		t.Fatal("label or context does not separate exported keys")
	}
	other := newLink(t, nil)
	o, _ := other.sa.Export("OSCORE Master Secret", nil, 16)
	if bytes.Equal(o, a) {
		t.Fatal("two sessions export the same key")
	}

	send(t, l.sa, l.sb, "1")
	send(t, l.sb, l.sa, "2")
	after, _ := l.sa.Export("OSCORE Master Secret", nil, 16)
	if !bytes.Equal(after, a) {
		t.Fatal("a ratchet step changed the exported key")
	}
	raw, err := l.sb.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored := &Session{m: l.mb}
	if err := restored.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if r, _ := restored.Export("OSCORE Master Secret", nil, 16); !bytes.Equal(r, a) {
		t.Fatal("a restored session exports another key")
	}

	for _, bad := range []struct {
		label string
		ctx   []byte
		n     int
	}{{"x", nil, 0}, {"x", nil, MaxExport + 1}, {"", nil, 16}, {string(make([]byte, 256)), nil, 16}, {"x", make([]byte, 1<<16), 16}} {
		if _, err := l.sa.Export(bad.label, bad.ctx, bad.n); !errors.Is(err, ErrMalformed) {
			t.Errorf("Export(label %d bytes, context %d bytes, n %d): %v, want ErrMalformed", len(bad.label), len(bad.ctx), bad.n, err)
		}
	}
	l.sa.Close()
	if _, err := l.sa.Export("OSCORE Master Secret", nil, 16); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed session: %v", err)
	}
}

// A bound frame opens only with its binding; a wrong binding fails before
// any state changes, so the genuine frame still opens afterwards.
func TestProtectBound(t *testing.T) {
	l := newLink(t, nil)
	bind := []byte("GET /temp token=01")
	f, err := l.sa.ProtectBound([]byte("21.5"), bind)
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range [][]byte{nil, []byte("GET /valve token=01"), append(bytes.Clone(bind), 0)} {
		if _, err := l.sb.UnprotectBound(f, wrong); !errors.Is(err, ErrAuth) {
			t.Fatalf("binding %q: %v, want ErrAuth", wrong, err)
		}
	}
	if _, err := l.sb.Unprotect(f); !errors.Is(err, ErrAuth) {
		t.Fatalf("unbound open of a bound frame: %v, want ErrAuth", err)
	}
	pt, err := l.sb.UnprotectBound(f, bind)
	if err != nil || string(pt) != "21.5" {
		t.Fatalf("genuine frame after refused re-targets: %q %v", pt, err)
	}
	if _, err := l.sb.UnprotectBound(f, bind); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := l.sa.ProtectBound(nil, make([]byte, MaxBinding+1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized binding: %v", err)
	}
}
