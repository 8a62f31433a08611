package session

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// Secret handling (security rule 5) for sessions: keys are wiped when a
// session ends, by whatever ends it, and no error the engine returns
// carries key material.

// sessionSecrets copies every key a session holds, for later comparison.
func sessionSecrets(s *Session) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{
		"root key":        bytes.Clone(s.rk[:]),
		"exporter secret": bytes.Clone(s.exporter[:]),
		"ratchet private": bytes.Clone(s.dhsPriv[:]),
		"sending chain":   bytes.Clone(s.cks[:]),
		"receiving chain": bytes.Clone(s.ckr[:]),
	}
	for i, k := range s.skipped {
		out["skipped key "+string(rune('0'+i%10))] = bytes.Clone(k.mk[:])
	}
	for i, k := range s.dks {
		out["KEM secret "+string(rune('0'+i%10))] = bytes.Clone(k.dk)
	}
	return out
}

// assertWiped fails unless every secret field of s is zero and the key
// lists are gone.
func assertWiped(t *testing.T, s *Session) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero [32]byte
	for name, v := range map[string][32]byte{
		"root key": s.rk, "exporter secret": s.exporter, "ratchet private": s.dhsPriv,
		"sending chain": s.cks, "receiving chain": s.ckr,
	} {
		if v != zero {
			t.Errorf("%s not wiped", name)
		}
	}
	if len(s.skipped) != 0 || len(s.dks) != 0 {
		t.Errorf("%d skipped message keys and %d KEM secrets left", len(s.skipped), len(s.dks))
	}
	if !s.closed {
		t.Error("session not marked closed")
	}
}

// Every way a session ends wipes its keys: Close, a revocation of the peer,
// and a policy that stops allowing its suite. Skipped message keys and
// outstanding KEM secrets go too.
func TestSessionEndWipesKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, l *link)
	}{
		{"Close", func(t *testing.T, l *link) { l.sb.Close() }},
		{"peer revoked", func(t *testing.T, l *link) { l.f.revoke(t, 1, l.a, l.b.trust) }},
		{"suite no longer allowed", func(t *testing.T, l *link) {
			p := l.f.policy
			p.Sequence, p.AllowedKEMs = 2, []string{"ML-KEM-1024"}
			l.f.applyPolicy(t, p, l.b.trust)
			l.mb.EnforcePolicy()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLink(t, nil)
			send(t, l.sa, l.sb, "first")
			// Leave skipped keys behind: frames 1 and 2 lost, 3 received.
			for range 2 {
				if _, err := l.sa.Protect([]byte("lost")); err != nil {
					t.Fatal(err)
				}
			}
			send(t, l.sa, l.sb, "after a loss")
			if len(sessionSecrets(l.sb)) < 6 {
				t.Fatal("test setup: no skipped keys held")
			}
			tc.end(t, l)
			assertWiped(t, l.sb)
			if _, err := l.sb.Protect([]byte("x")); err == nil {
				t.Fatal("ended session still protects")
			}
		})
	}
}

// containsSecret reports which secret, if any, appears in msg raw, in hex
// (either case) or in base64.
func containsSecret(msg string, secrets map[string][]byte) string {
	for name, s := range secrets {
		if bytes.Equal(s, make([]byte, len(s))) {
			continue // an all-zero field is not a secret worth finding
		}
		for _, enc := range []string{string(s), hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)),
			base64.StdEncoding.EncodeToString(s), hex.EncodeToString(s[:8])} {
			if strings.Contains(msg, enc) {
				return name
			}
		}
	}
	return ""
}

// Errors from every refusal path of a session say what went wrong without
// carrying key material: no session key (not even its first 8 bytes in hex)
// appears in any of them.
func TestErrorsCarryNoSessionSecrets(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "hello")
	good, err := l.sa.Protect([]byte("reading"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.sa.Protect([]byte("lost")); err != nil { // leaves a skipped key at sb
		t.Fatal(err)
	}
	later, _ := l.sa.Protect([]byte("later"))
	if _, err := l.sb.Unprotect(later); err != nil {
		t.Fatal(err)
	}
	secrets := sessionSecrets(l.sb)
	for k, v := range sessionSecrets(l.sa) {
		secrets["initiator "+k] = v
	}

	// The detector itself must work: a message quoting a key is caught.
	if containsSecret("derived key "+hex.EncodeToString(secrets["root key"][:8])+"...", secrets) == "" {
		t.Fatal("containsSecret misses a hex-quoted root key")
	}

	flip := func(i int) []byte { f := bytes.Clone(good); f[i%len(f)] ^= 0x40; return f }
	var errs []error
	for _, frame := range [][]byte{flip(0), flip(1), flip(5), flip(len(good) / 2), flip(len(good) - 1),
		good[:len(good)-1], append(bytes.Clone(good), 0), later, nil, bytes.Repeat([]byte{0xff}, MaxPlaintext+1024)} {
		if _, err := l.sb.Unprotect(frame); err != nil {
			errs = append(errs, err)
		}
	}
	_, _, err = l.mb.HandleHandshake(good)
	errs = append(errs, err)
	_, err = l.sa.Protect(make([]byte, MaxPlaintext+1))
	errs = append(errs, err)
	if len(errs) < 10 {
		t.Fatalf("only %d refusals provoked", len(errs))
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("a malformed input was accepted")
		}
		if name := containsSecret(err.Error(), secrets); name != "" {
			t.Errorf("error %q carries the %s", err, name)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuth) && !errors.Is(err, ErrReplay) && !errors.Is(err, ErrUnknownSession) {
			t.Errorf("refusal %q wraps none of the session sentinels", err)
		}
	}
}

// Memory and work bounds on the handshake path (security rule 4): the table
// of pending handshakes is bounded and refuses beyond it without growing,
// expired entries make room again; an oversized handshake is refused before
// parsing; and an Init is charged to the initiator's budget before its
// signature is verified, so a flood of forged Inits under a known id costs
// one verification per token.
func TestPendingHandshakesBounded(t *testing.T) {
	l := newLink(t, func(c *Config) { c.MaxPending = 4 })
	for i := range 4 {
		if _, err := l.ma.Initiate(l.b.id, dataTopic); err != nil {
			t.Fatalf("handshake %d: %v", i, err)
		}
	}
	for range 3 {
		if _, err := l.ma.Initiate(l.b.id, dataTopic); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("handshake beyond MaxPending: %v, want ErrRateLimited", err)
		}
	}
	if n := len(l.ma.pending); n != 4 {
		t.Fatalf("%d pending handshakes kept, bound is 4", n)
	}
	l.f.clk.advance(31 * time.Second)
	if _, err := l.ma.Initiate(l.b.id, dataTopic); err != nil {
		t.Fatalf("after the pending ones expired: %v", err)
	}
	if n := len(l.ma.pending); n != 1 {
		t.Fatalf("%d pending handshakes after expiry, want 1", n)
	}
}

func TestOversizedHandshakeRefusedBeforeParsing(t *testing.T) {
	l := newLink(t, nil)
	init, _ := l.ma.Initiate(l.b.id, dataTopic)
	for _, frame := range [][]byte{
		append(bytes.Clone(init), make([]byte, MaxHandshakeSize)...),
		make([]byte, MaxHandshakeSize+1),
		{}, {1},
	} {
		if _, s, err := l.mb.HandleHandshake(frame); !errors.Is(err, ErrMalformed) || s != nil {
			t.Fatalf("%d-byte handshake: %v, want ErrMalformed", len(frame), err)
		}
	}
}

func TestHandshakeBudgetChargedBeforeSignature(t *testing.T) {
	l := newLink(t, nil)
	cfg := l.f.cfg(l.b)
	cfg.Budget = NewTokenBucket(identity.RateLimit{Rate: 0.001, Burst: 1}, l.f.clk.now)
	mb := NewManager(cfg)
	init, _ := l.ma.Initiate(l.b.id, dataTopic)
	forged := bytes.Clone(init)
	forged[len(forged)-10] ^= 1 // inside the signature
	if _, _, err := mb.HandleHandshake(forged); !errors.Is(err, ErrAuth) {
		t.Fatalf("forged Init with budget left: %v, want ErrAuth", err)
	}
	// The budget is spent: the genuine Init is now refused without being
	// verified, which is the point of charging first.
	if _, _, err := mb.HandleHandshake(init); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("Init over budget: %v, want ErrRateLimited", err)
	}
}
