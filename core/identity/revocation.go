package identity

import (
	"bytes"
	"fmt"
	"slices"
)

// RevocationClaims are a cumulative revocation list: every list carries all
// revoked key ids, so a device that missed updates loses nothing by
// installing only the newest.
type RevocationClaims struct {
	Issuer   string   `cbor:"1,keyasint"`
	IssuedAt int64    `cbor:"6,keyasint"`
	Sequence uint64   `cbor:"-1,keyasint"`
	KeyIDs   [][]byte `cbor:"-2,keyasint"` // sorted, unique
}

// RevocationList is a verified revocation list.
type RevocationList struct {
	RevocationClaims
	Raw []byte
}

// SignRevocation is the CA side. Key ids are sorted and deduplicated so
// the encoding is unique.
func SignRevocation(ca *CA, seq uint64, issuedAt int64, keyIDs [][]byte) ([]byte, error) {
	ids := slices.Clone(keyIDs)
	slices.SortFunc(ids, bytes.Compare)
	ids = slices.CompactFunc(ids, bytes.Equal)
	c := RevocationClaims{Issuer: ca.Cert.Subject, IssuedAt: issuedAt, Sequence: seq, KeyIDs: ids}
	if ids == nil {
		c.KeyIDs = [][]byte{}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	payload, err := marshal(c)
	if err != nil {
		return nil, err
	}
	return ca.Key.sign(KindRevocation, payload, nil)
}

func (c *RevocationClaims) check() error {
	if !ValidID(c.Issuer) {
		return fmt.Errorf("revocation issuer %q: %w", c.Issuer, ErrMalformed)
	}
	for i, id := range c.KeyIDs {
		if len(id) != keyIDSize {
			return fmt.Errorf("revoked key id of %d bytes: %w", len(id), ErrMalformed)
		}
		if i > 0 && bytes.Compare(c.KeyIDs[i-1], id) >= 0 {
			return fmt.Errorf("revoked key ids not sorted and unique: %w", ErrMalformed)
		}
	}
	return nil
}

// ParseRevocation verifies a revocation list against the trust anchors.
func ParseRevocation(data []byte, anchors []*Certificate) (*RevocationList, error) {
	obj, err := parseSigned(data, KindRevocation, MaxRevocationSize)
	if err != nil {
		return nil, err
	}
	var c RevocationClaims
	if err := unmarshalCanonical(obj.payload, &c); err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := verifyByAnchor(obj, c.Issuer, anchors); err != nil {
		return nil, fmt.Errorf("revocation list %d: %w", c.Sequence, err)
	}
	return &RevocationList{RevocationClaims: c, Raw: append([]byte(nil), data...)}, nil
}

// Contains reports whether keyID is revoked (binary search: ids are sorted).
func (r *RevocationList) Contains(keyID []byte) bool {
	_, found := slices.BinarySearchFunc(r.KeyIDs, keyID, bytes.Compare)
	return found
}
