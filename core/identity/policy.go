package identity

import (
	"fmt"
	"slices"
	"time"
)

// RateLimit is a token bucket: Rate tokens per second, Burst at most.
type RateLimit struct {
	Rate  float64 `cbor:"1,keyasint"`
	Burst uint32  `cbor:"2,keyasint"`
}

// PolicyClaims are the contents of a fleet policy. A policy is signed by a
// trust anchor, carries a sequence number (only higher ones replace it) and
// an expiry after which high-risk operations fail closed.
type PolicyClaims struct {
	Issuer           string    `cbor:"1,keyasint"`
	IssuedAt         int64     `cbor:"6,keyasint"`
	Expiry           int64     `cbor:"4,keyasint"`
	Sequence         uint64    `cbor:"-1,keyasint"`
	AllowedKEMs      []string  `cbor:"-2,keyasint"`
	AllowedSigs      []string  `cbor:"-3,keyasint"`
	RekeyMessages    uint64    `cbor:"-4,keyasint,omitempty"` // PQ ratchet step every N messages
	RekeySeconds     uint64    `cbor:"-5,keyasint,omitempty"` // ... or every T seconds
	PeerBudget       RateLimit `cbor:"-6,keyasint"`           // per peer, before expensive crypto
	GlobalBudget     RateLimit `cbor:"-7,keyasint"`
	RequireSessions  bool      `cbor:"-8,keyasint,omitempty"`
	MinRevocationSeq uint64    `cbor:"-9,keyasint,omitempty"`
	RotationSeconds  uint64    `cbor:"-10,keyasint,omitempty"` // operational key lifetime
	OverlapSeconds   uint64    `cbor:"-11,keyasint,omitempty"` // both epochs accepted this long
}

// Policy is a verified fleet policy.
type Policy struct {
	PolicyClaims
	Raw []byte
}

// SignPolicy is the CA side: it signs claims with the anchor's key.
func SignPolicy(ca *CA, claims PolicyClaims) ([]byte, error) {
	claims.Issuer = ca.Cert.Subject
	if err := claims.check(); err != nil {
		return nil, err
	}
	payload, err := marshal(claims)
	if err != nil {
		return nil, err
	}
	return ca.Key.sign(KindPolicy, payload, nil)
}

func (p *PolicyClaims) check() error {
	if !ValidID(p.Issuer) || p.IssuedAt >= p.Expiry || len(p.AllowedKEMs) == 0 || len(p.AllowedSigs) == 0 ||
		len(p.AllowedKEMs) > 32 || len(p.AllowedSigs) > 32 {
		return fmt.Errorf("policy fields: %w", ErrMalformed)
	}
	return nil
}

// ParsePolicy verifies a policy object against the trust anchors.
func ParsePolicy(data []byte, anchors []*Certificate) (*Policy, error) {
	obj, err := parseSigned(data, KindPolicy, MaxObjectSize)
	if err != nil {
		return nil, err
	}
	var c PolicyClaims
	if err := unmarshalCanonical(obj.payload, &c); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := verifyByAnchor(obj, c.Issuer, anchors); err != nil {
		return nil, fmt.Errorf("policy %d: %w", c.Sequence, err)
	}
	return &Policy{PolicyClaims: c, Raw: append([]byte(nil), data...)}, nil
}

// Fresh reports whether the policy may still be relied on at now.
func (p *Policy) Fresh(now time.Time) error {
	if now.Unix() >= p.Expiry {
		return fmt.Errorf("policy %d expired %s: %w", p.Sequence, time.Unix(p.Expiry, 0).UTC(), ErrPolicyStale)
	}
	return nil
}

// AllowsKEM and AllowsSignature implement crypto agility: only listed
// algorithms are used or accepted.
func (p *Policy) AllowsKEM(alg string) bool       { return slices.Contains(p.AllowedKEMs, alg) }
func (p *Policy) AllowsSignature(alg string) bool { return slices.Contains(p.AllowedSigs, alg) }

// verifyByAnchor checks a signature by the anchor named issuer.
func verifyByAnchor(obj *signedObject, issuer string, anchors []*Certificate) error {
	for _, a := range anchors {
		if a.Subject == issuer {
			return obj.verify(a.SigKey, nil)
		}
	}
	return fmt.Errorf("signed by %q: %w", issuer, ErrUnknownIssuer)
}
