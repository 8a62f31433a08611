package identity

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sync"
	"time"
)

// A join request is two nested COSE_Sign1 objects: the inner one (proof of
// possession) is signed by the new operational key over the request claims,
// the outer one by the device's factory key over the inner bytes. The CA thus
// learns that the factory-provisioned device asks for these keys and that it
// holds the new secret key. A renewal has the same shape with the current
// operational key in the factory key's place.

// RequestClaims are the contents of a join or renewal request.
type RequestClaims struct {
	DeviceID  string      `cbor:"1,keyasint"`
	RequestID []byte      `cbor:"2,keyasint"`           // random, unique per request
	Timestamp int64       `cbor:"3,keyasint"`           // Unix seconds when made
	Nonce     []byte      `cbor:"4,keyasint,omitempty"` // CA-issued challenge, if the CA uses them
	SigKey    PublicKey   `cbor:"5,keyasint"`           // the new operational signature key
	KEMKeys   []PublicKey `cbor:"6,keyasint,omitempty"`
	// Authority is the key signing the outer layer: the factory key for a
	// join, the current operational key for a renewal.
	Authority PublicKey `cbor:"7,keyasint"`
	// Current is the current certificate chain, for renewals only.
	Current []byte `cbor:"8,keyasint,omitempty"`
}

// OperationalKeys are a device's operational key pairs for one epoch.
type OperationalKeys struct {
	Sig  *SigningKey
	KEMs []*KEMKey
}

// NewOperationalKeys generates a signature key and one key per KEM.
func NewOperationalKeys(sigAlg string, kemAlgs []string) (*OperationalKeys, error) {
	sig, err := NewSigningKey(sigAlg)
	if err != nil {
		return nil, err
	}
	keys := &OperationalKeys{Sig: sig}
	for _, alg := range kemAlgs {
		k, err := NewKEMKey(alg)
		if err != nil {
			keys.Wipe()
			return nil, err
		}
		keys.KEMs = append(keys.KEMs, k)
	}
	return keys, nil
}

// KEMPublicKeys lists the public halves of the KEM keys.
func (k *OperationalKeys) KEMPublicKeys() []PublicKey {
	out := make([]PublicKey, len(k.KEMs))
	for i, kk := range k.KEMs {
		out[i] = kk.Public
	}
	return out
}

// KeyID is the id a certificate for these keys carries.
func (k *OperationalKeys) KeyID() []byte { return computeKeyID(k.Sig.Public, k.KEMPublicKeys()) }

// Wipe destroys every secret key.
func (k *OperationalKeys) Wipe() {
	if k.Sig != nil {
		k.Sig.Wipe()
	}
	for _, kk := range k.KEMs {
		kk.Wipe()
	}
}

// NewJoinRequest is made by a device: it asks the CA to certify keys, signed
// by the factory key. nonce is the CA's challenge, or nil.
func NewJoinRequest(deviceID string, factory *SigningKey, keys *OperationalKeys, nonce []byte, now time.Time) ([]byte, error) {
	return newRequest(KindJoinPoP, KindJoinRequest, deviceID, factory, keys, nonce, nil, now)
}

// NewRenewalRequest asks for the next epoch: new keys, signed by the current
// operational key, with the current chain attached.
func NewRenewalRequest(deviceID string, current *SigningKey, currentChain []byte, next *OperationalKeys, now time.Time) ([]byte, error) {
	return newRequest(KindRenewPoP, KindRenewRequest, deviceID, current, next, nil, currentChain, now)
}

func newRequest(innerKind, outerKind Kind, deviceID string, authority *SigningKey, keys *OperationalKeys, nonce, current []byte, now time.Time) ([]byte, error) {
	if !ValidID(deviceID) {
		return nil, fmt.Errorf("device id %q: %w", deviceID, ErrMalformed)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	claims := RequestClaims{
		DeviceID: deviceID, RequestID: id, Timestamp: now.Unix(), Nonce: nonce,
		SigKey: keys.Sig.Public, KEMKeys: keys.KEMPublicKeys(), Authority: authority.Public, Current: current,
	}
	payload, err := marshal(claims)
	if err != nil {
		return nil, err
	}
	inner, err := keys.Sig.sign(innerKind, payload, nil)
	if err != nil {
		return nil, err
	}
	return authority.sign(outerKind, inner, nil)
}

// openRequest verifies both layers and returns the claims. The outer
// signature must be by claims.Authority, the inner by claims.SigKey.
func openRequest(data []byte, innerKind, outerKind Kind) (*RequestClaims, error) {
	outer, err := parseSigned(data, outerKind, 2*MaxObjectSize)
	if err != nil {
		return nil, err
	}
	inner, err := parseSigned(outer.payload, innerKind, 2*MaxObjectSize)
	if err != nil {
		return nil, err
	}
	var c RequestClaims
	if err := unmarshalCanonical(inner.payload, &c); err != nil {
		return nil, fmt.Errorf("request claims: %w", err)
	}
	if !ValidID(c.DeviceID) || len(c.RequestID) != 16 || len(c.Nonce) > 64 || len(c.KEMKeys) > 4 {
		return nil, fmt.Errorf("request fields: %w", ErrMalformed)
	}
	if err := c.Authority.checkSignatureKey(); err != nil {
		return nil, err
	}
	if err := c.SigKey.checkSignatureKey(); err != nil {
		return nil, err
	}
	for _, k := range c.KEMKeys {
		if err := k.checkKEMKey(); err != nil {
			return nil, err
		}
	}
	if err := outer.verify(c.Authority, nil); err != nil {
		return nil, fmt.Errorf("request authority signature: %w", err)
	}
	if err := inner.verify(c.SigKey, nil); err != nil {
		return nil, fmt.Errorf("proof of possession: %w", err)
	}
	return &c, nil
}

// AllowedDevice is an allow-list entry: a factory key the CA accepts, the
// device id it may join as, and what the certificate grants.
type AllowedDevice struct {
	DeviceID   string
	FactoryKey PublicKey
	Roles      []string
	Topics     []TopicPermission
}

// ReplayGuard remembers request ids until they can no longer be accepted
// anyway (their timestamp left the window). Implementations must persist if
// the CA restarts within a window.
type ReplayGuard interface {
	// Remember records id (to be kept until until) and reports whether it
	// was already recorded. now lets it forget ids whose time has passed.
	Remember(id []byte, now, until time.Time) (seen bool, err error)
}

// MemoryReplayGuard is a ReplayGuard for one process's lifetime.
type MemoryReplayGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time
	// floor is the latest "until" among forgotten ids: a request whose
	// window ends at or before it may have been seen and forgotten (the
	// clock went forward, then back), so it is treated as seen.
	floor time.Time
}

func (g *MemoryReplayGuard) Remember(id []byte, now, until time.Time) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	if _, ok := g.seen[string(id)]; ok || !until.After(g.floor) {
		return true, nil
	}
	for k, u := range g.seen {
		if now.After(u) {
			delete(g.seen, k)
			if u.After(g.floor) {
				g.floor = u
			}
		}
	}
	g.seen[string(id)] = until
	return false, nil
}

// Enroller is the CA side of joining and renewal.
type Enroller struct {
	CA      *CA
	Chain   Chain          // the CA's chain above CA.Cert (intermediates), may be empty
	Anchors []*Certificate // to verify current chains in renewals
	Allowed []AllowedDevice
	Replay  ReplayGuard
	// Window bounds the age (and future skew) of a request's timestamp.
	Window   time.Duration
	Validity time.Duration
	// IsRevoked, if set, refuses renewals from revoked keys.
	IsRevoked func(keyID []byte) bool
}

// Enroll processes a join request and returns the device's certificate
// chain (leaf first, encoded with EncodeChain).
func (e *Enroller) Enroll(req []byte, now time.Time) ([]byte, error) {
	c, err := openRequest(req, KindJoinPoP, KindJoinRequest)
	if err != nil {
		return nil, err
	}
	entry, err := e.allowed(c)
	if err != nil {
		return nil, err
	}
	if err := e.fresh(c, now); err != nil {
		return nil, err
	}
	return e.issue(c, 0, entry.Roles, entry.Topics, now)
}

// Renew processes a renewal request: the current chain must verify, the
// request must be signed by its key, and the new certificate gets the next
// epoch with the same roles.
func (e *Enroller) Renew(req []byte, now time.Time) ([]byte, error) {
	c, err := openRequest(req, KindRenewPoP, KindRenewRequest)
	if err != nil {
		return nil, err
	}
	chain, err := ParseChain(c.Current)
	if err != nil {
		return nil, fmt.Errorf("current chain: %w", err)
	}
	leaf, err := VerifyChain(chain, e.Anchors, VerifyOptions{Now: now, IsRevoked: e.IsRevoked})
	if err != nil {
		return nil, fmt.Errorf("current certificate: %w", err)
	}
	if leaf.Subject != c.DeviceID || leaf.CA {
		return nil, fmt.Errorf("renewal for %q with the certificate of %q: %w", c.DeviceID, leaf.Subject, ErrNotAllowed)
	}
	if !bytes.Equal(leaf.SigKey.ID(), c.Authority.ID()) {
		return nil, fmt.Errorf("renewal not signed by the current key: %w", ErrBadSignature)
	}
	if err := e.fresh(c, now); err != nil {
		return nil, err
	}
	return e.issue(c, leaf.Epoch+1, leaf.Roles, leaf.Topics, now)
}

func (e *Enroller) allowed(c *RequestClaims) (*AllowedDevice, error) {
	for i := range e.Allowed {
		a := &e.Allowed[i]
		if bytes.Equal(a.FactoryKey.ID(), c.Authority.ID()) {
			if a.DeviceID != c.DeviceID {
				return nil, fmt.Errorf("factory key registered for %q, request for %q: %w", a.DeviceID, c.DeviceID, ErrNotAllowed)
			}
			return a, nil
		}
	}
	return nil, fmt.Errorf("factory key %x of %q: %w", c.Authority.ID(), c.DeviceID, ErrNotAllowed)
}

// fresh enforces the timestamp window and one-time use of request ids.
func (e *Enroller) fresh(c *RequestClaims, now time.Time) error {
	age := now.Sub(time.Unix(c.Timestamp, 0))
	if age > e.Window || age < -e.Window {
		return fmt.Errorf("request from %s, now %s: %w", time.Unix(c.Timestamp, 0).UTC(), now.UTC(), ErrStaleRequest)
	}
	seen, err := e.Replay.Remember(c.RequestID, now, time.Unix(c.Timestamp, 0).Add(e.Window))
	if err != nil {
		return fmt.Errorf("replay guard: %w", err)
	}
	if seen {
		return fmt.Errorf("request %x: %w", c.RequestID, ErrReplay)
	}
	return nil
}

func (e *Enroller) issue(c *RequestClaims, epoch uint64, roles []string, topics []TopicPermission, now time.Time) ([]byte, error) {
	cert, err := e.CA.Issue(CertTemplate{
		Subject: c.DeviceID, Epoch: epoch, SigKey: c.SigKey, KEMKeys: c.KEMKeys,
		Roles: roles, Topics: topics, Validity: e.Validity,
	}, now)
	if err != nil {
		return nil, err
	}
	chain := append(Chain{cert}, e.CA.Cert)
	if e.CA.Cert.Issuer != e.CA.Cert.Subject { // intermediate: add what lies above
		chain = append(chain, e.Chain...)
	} else {
		chain = chain[:1] // the root is the verifier's anchor; don't ship it
	}
	return EncodeChain(chain)
}
