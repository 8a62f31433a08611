package session

import (
	"fmt"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// KEM codes in sealed frames: one byte instead of the name.
var kemCodes = []struct {
	id  byte
	alg string
}{
	{0x01, pqc.HybridKEMName},
	{0x02, "ML-KEM-768"},
	{0x03, "ML-KEM-1024"},
	{0x04, "Saber"},
}

func kemByAlg(alg string) (byte, pqc.KEM, error) {
	for _, c := range kemCodes {
		if c.alg == alg {
			k, err := pqc.KEMByName(alg)
			return c.id, k, err
		}
	}
	return 0, nil, fmt.Errorf("%w: no sealed-frame code for %s", ErrPolicy, alg)
}

func kemByID(id byte) (string, pqc.KEM, error) {
	for _, c := range kemCodes {
		if c.id == id {
			k, err := pqc.KEMByName(c.alg)
			return c.alg, k, err
		}
	}
	return "", nil, fmt.Errorf("%w: KEM code 0x%02x", ErrMalformed, id)
}

// Suite is a session cipher suite: X25519 and one post-quantum KEM for the
// handshake and the ratchet's PQ steps, HKDF-SHA256, AES-256-GCM.
type Suite byte

// Suites. The KEM of each must be listed in the policy's AllowedKEMs.
const (
	SuiteMLKEM768  Suite = 0x01 // X25519 + ML-KEM-768 (default)
	SuiteMLKEM1024 Suite = 0x02 // X25519 + ML-KEM-1024
	SuiteSaber     Suite = 0x03 // X25519 + Saber
)

// KEMName is the registry name of the suite's KEM.
func (s Suite) KEMName() string {
	switch s {
	case SuiteMLKEM768:
		return "ML-KEM-768"
	case SuiteMLKEM1024:
		return "ML-KEM-1024"
	case SuiteSaber:
		return "Saber"
	}
	return ""
}

func (s Suite) kem() (pqc.KEM, error) {
	name := s.KEMName()
	if name == "" {
		return nil, fmt.Errorf("%w: suite 0x%02x", ErrMalformed, byte(s))
	}
	return pqc.KEMByName(name)
}

// allowed fails closed: a missing or stale policy, or one that does not
// list the suite's KEM, refuses the suite. There is no fallback.
func (s Suite) allowed(p *identity.Policy) error {
	if p == nil {
		return fmt.Errorf("%w: %v", ErrPolicy, identity.ErrPolicyMissing)
	}
	if name := s.KEMName(); name == "" || !p.AllowsKEM(name) {
		return fmt.Errorf("%w: suite 0x%02x (%s) not allowed", ErrPolicy, byte(s), name)
	}
	return nil
}
