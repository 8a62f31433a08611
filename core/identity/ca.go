package identity

import (
	"crypto/rand"
	"fmt"
	"time"
)

// CA is a certificate authority: its certificate and signing key.
type CA struct {
	Cert *Certificate
	Key  *SigningKey
}

// CertTemplate is what a CA puts in a certificate it issues.
type CertTemplate struct {
	Subject  string
	Epoch    uint64
	SigKey   PublicKey
	KEMKeys  []PublicKey
	Roles    []string
	Topics   []TopicPermission
	Validity time.Duration
	CA       bool
	PathLen  uint
}

// NewRootCA creates a self-signed root CA with a fresh key.
func NewRootCA(name, alg string, now time.Time, validity time.Duration, pathLen uint) (*CA, error) {
	key, err := NewSigningKey(alg)
	if err != nil {
		return nil, err
	}
	claims, err := newClaims(name, CertTemplate{
		Subject: name, SigKey: key.Public, Validity: validity, CA: true, PathLen: pathLen,
	}, now, now.Add(validity))
	if err != nil {
		return nil, err
	}
	cert, err := signCertificate(key, claims)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// NewIntermediate creates a CA below ca with a fresh key.
func (ca *CA) NewIntermediate(name, alg string, now time.Time, validity time.Duration, pathLen uint) (*CA, error) {
	key, err := NewSigningKey(alg)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue(CertTemplate{
		Subject: name, SigKey: key.Public, Validity: validity, CA: true, PathLen: pathLen,
	}, now)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue signs a certificate for t. The validity never outlasts the CA's
// own, and a CA refuses to issue while it is not valid itself.
func (ca *CA) Issue(t CertTemplate, now time.Time) (*Certificate, error) {
	if err := ca.Cert.ValidAt(now); err != nil {
		return nil, fmt.Errorf("issuing CA: %w", err)
	}
	if t.CA && t.PathLen >= ca.Cert.PathLen {
		return nil, fmt.Errorf("%s may not issue a CA with path length %d: %w", ca.Cert.Subject, t.PathLen, ErrPathLength)
	}
	expiry := now.Add(t.Validity)
	if caExpiry := time.Unix(ca.Cert.Expiry, 0); expiry.After(caExpiry) {
		expiry = caExpiry
	}
	claims, err := newClaims(ca.Cert.Subject, t, now, expiry)
	if err != nil {
		return nil, err
	}
	return signCertificate(ca.Key, claims)
}

func newClaims(issuer string, t CertTemplate, now, expiry time.Time) (*Claims, error) {
	serial := make([]byte, 16)
	if _, err := rand.Read(serial); err != nil {
		return nil, err
	}
	c := &Claims{
		Issuer: issuer, Subject: t.Subject,
		NotBefore: now.Unix(), IssuedAt: now.Unix(), Expiry: expiry.Unix(),
		Serial: serial, Version: certVersion, Epoch: t.Epoch,
		KeyID:  computeKeyID(t.SigKey, t.KEMKeys),
		SigKey: t.SigKey, KEMKeys: t.KEMKeys, Roles: t.Roles, Topics: t.Topics,
		CA: t.CA, PathLen: t.PathLen,
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

func signCertificate(key *SigningKey, c *Claims) (*Certificate, error) {
	payload, err := marshal(c)
	if err != nil {
		return nil, err
	}
	raw, err := key.sign(KindCertificate, payload, nil)
	if err != nil {
		return nil, err
	}
	return ParseCertificate(raw)
}
