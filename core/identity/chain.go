package identity

import (
	"bytes"
	"fmt"
	"time"
)

// VerifyOptions are the context a chain is verified in.
type VerifyOptions struct {
	Now time.Time
	// IsRevoked reports whether a key id is revoked; nil means none is.
	IsRevoked func(keyID []byte) bool
	// AllowSignature reports whether policy allows a signature scheme;
	// nil allows every registered scheme.
	AllowSignature func(alg string) bool
}

// VerifyChain checks that chain (leaf first) leads to one of anchors: each
// certificate signed by the next (or by an anchor), every issuer a CA within
// its path length, every certificate valid at opts.Now and not revoked, and
// every signature scheme allowed. It returns the leaf.
func VerifyChain(chain Chain, anchors []*Certificate, opts VerifyOptions) (*Certificate, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("empty chain: %w", ErrMalformed)
	}
	for i, c := range chain {
		if isAnchor(c, anchors) {
			// The chain carried the anchor itself; the link to it is checked.
			if i == 0 {
				return nil, fmt.Errorf("%s is a trust anchor, not a device: %w", c.Subject, ErrMalformed)
			}
			return chain[0], anchorValid(c, opts.Now)
		}
		issuer, err := issuerOf(chain, i, anchors)
		if err != nil {
			return nil, err
		}
		if err := checkIssued(c, issuer, i, opts); err != nil {
			return nil, err
		}
		if i+1 == len(chain) { // the issuer is an anchor found by name and key
			return chain[0], anchorValid(issuer, opts.Now)
		}
	}
	return chain[0], nil
}

func anchorValid(anchor *Certificate, now time.Time) error {
	if err := anchor.ValidAt(now); err != nil {
		return fmt.Errorf("trust anchor: %w", err)
	}
	return nil
}

// issuerOf picks the certificate that signed chain[i]: the next one in the
// chain, or else an anchor with the right name and key id.
func issuerOf(chain Chain, i int, anchors []*Certificate) (*Certificate, error) {
	c := chain[i]
	if i+1 < len(chain) {
		return chain[i+1], nil
	}
	for _, a := range anchors {
		if a.Subject == c.Issuer && bytes.Equal(a.SigKey.ID(), c.signed.keyID) {
			return a, nil
		}
	}
	return nil, fmt.Errorf("%s issued by %q (key %x): %w", c.Subject, c.Issuer, c.signed.keyID, ErrUnknownIssuer)
}

// checkIssued verifies one link: issuer -> c, where c sits at depth i (the
// number of CA certificates between the issuer and the leaf is i).
func checkIssued(c, issuer *Certificate, i int, opts VerifyOptions) error {
	switch {
	case !issuer.CA:
		return fmt.Errorf("%s signed by %s: %w", c.Subject, issuer.Subject, ErrNotCA)
	case issuer.Subject != c.Issuer:
		return fmt.Errorf("%s names issuer %q, signed by %q: %w", c.Subject, c.Issuer, issuer.Subject, ErrUnknownIssuer)
	case uint(i) > issuer.PathLen:
		return fmt.Errorf("%s allows %d CAs below it, chain has %d: %w", issuer.Subject, issuer.PathLen, i, ErrPathLength)
	}
	if opts.AllowSignature != nil && !opts.AllowSignature(issuer.SigKey.Alg) {
		return fmt.Errorf("%s signs with %s: %w", issuer.Subject, issuer.SigKey.Alg, ErrAlgorithmNotAllowed)
	}
	if err := c.signed.verify(issuer.SigKey, nil); err != nil {
		return fmt.Errorf("certificate of %s: %w", c.Subject, err)
	}
	if err := c.ValidAt(opts.Now); err != nil {
		return err
	}
	if opts.IsRevoked != nil && (opts.IsRevoked(c.KeyID) || opts.IsRevoked(issuer.KeyID)) {
		return fmt.Errorf("%s (epoch %d): %w", c.Subject, c.Epoch, ErrRevoked)
	}
	return nil
}

func isAnchor(c *Certificate, anchors []*Certificate) bool {
	for _, a := range anchors {
		if bytes.Equal(a.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// ParseAnchor parses a root CA certificate and checks that it is a
// self-signed CA, as a trust anchor must be.
func ParseAnchor(data []byte) (*Certificate, error) {
	c, err := ParseCertificate(data)
	if err != nil {
		return nil, err
	}
	if !c.CA || c.Issuer != c.Subject {
		return nil, fmt.Errorf("%s is not a self-signed CA: %w", c.Subject, ErrNotCA)
	}
	if err := c.signed.verify(c.SigKey, nil); err != nil {
		return nil, fmt.Errorf("trust anchor %s: %w", c.Subject, err)
	}
	return c, nil
}
