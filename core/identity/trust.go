package identity

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Trust is a device's (or a SCADA client's) view of the fleet: the trust
// anchors, the installed policy and revocation list, and the peers whose
// announcements it accepted. It is safe for concurrent use.
type Trust struct {
	mu         sync.RWMutex
	anchors    []*Certificate
	policy     *Policy
	revocation *RevocationList
	peers      map[string]*Peer
	listeners  map[int]func(RevocationEvent)
	nextID     int
	// latest is the latest time (Unix ns) PeerKeyValid was asked about:
	// a rotation overlap that has ended stays ended when the clock is set
	// back.
	latest atomic.Int64
	// AllowTOFU accepts announcements without a certificate. Off unless a
	// deployment asks for it explicitly.
	AllowTOFU bool
	// Overlap is how long a peer's previous epoch stays acceptable after a
	// newer one arrives when no policy says otherwise.
	Overlap time.Duration
}

// Peer is what Trust knows of another device.
type Peer struct {
	DeviceID string
	Current  *Announcement
	// Previous stays valid until PreviousUntil: the rotation overlap.
	Previous      *Announcement
	PreviousUntil time.Time
}

// RevocationEvent tells listeners which keys a new revocation list revoked,
// so the session layer can close sessions that rely on them.
type RevocationEvent struct {
	KeyIDs    [][]byte
	DeviceIDs []string // known peers whose current or previous key is among them
	Sequence  uint64
}

// NewTrust starts from trust anchors (root CA certificates, each checked to
// be a self-signed CA).
func NewTrust(anchors ...[]byte) (*Trust, error) {
	t := &Trust{peers: map[string]*Peer{}, listeners: map[int]func(RevocationEvent){}, Overlap: 24 * time.Hour}
	for _, a := range anchors {
		c, err := ParseAnchor(a)
		if err != nil {
			return nil, err
		}
		t.anchors = append(t.anchors, c)
	}
	if len(t.anchors) == 0 {
		return nil, fmt.Errorf("no trust anchor: %w", ErrMalformed)
	}
	return t, nil
}

// Anchors returns the trust anchors.
func (t *Trust) Anchors() []*Certificate { return t.anchors }

// Policy returns the installed policy, or nil.
func (t *Trust) Policy() *Policy {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.policy
}

// Revocation returns the installed revocation list, or nil.
func (t *Trust) Revocation() *RevocationList {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.revocation
}

// ApplyPolicy installs a policy if it verifies and its sequence number is
// higher than the installed one; the same policy again is accepted and
// changes nothing, a lower number is ErrRollback.
func (t *Trust) ApplyPolicy(data []byte, now time.Time) (*Policy, error) {
	p, err := ParsePolicy(data, t.anchors)
	if err != nil {
		return nil, err
	}
	if err := p.Fresh(now); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur := t.policy; cur != nil {
		if p.Sequence < cur.Sequence || (p.Sequence == cur.Sequence && !bytes.Equal(p.Raw, cur.Raw)) {
			return nil, fmt.Errorf("policy %d after %d: %w", p.Sequence, cur.Sequence, ErrRollback)
		}
	}
	t.policy = p
	return p, nil
}

// ApplyRevocation installs a cumulative revocation list with the same
// monotonic rule and tells listeners what it newly revoked.
func (t *Trust) ApplyRevocation(data []byte) (*RevocationList, error) {
	r, err := ParseRevocation(data, t.anchors)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if cur := t.revocation; cur != nil {
		if r.Sequence < cur.Sequence || (r.Sequence == cur.Sequence && !bytes.Equal(r.Raw, cur.Raw)) {
			t.mu.Unlock()
			return nil, fmt.Errorf("revocation list %d after %d: %w", r.Sequence, cur.Sequence, ErrRollback)
		}
	}
	event := RevocationEvent{Sequence: r.Sequence}
	for _, id := range r.KeyIDs {
		if t.revocation == nil || !t.revocation.Contains(id) {
			event.KeyIDs = append(event.KeyIDs, id)
		}
	}
	for _, p := range t.peers {
		for _, a := range []*Announcement{p.Current, p.Previous} {
			if a != nil && r.Contains(a.KeyID) {
				event.DeviceIDs = append(event.DeviceIDs, p.DeviceID)
				break
			}
		}
	}
	t.revocation = r
	listeners := make([]func(RevocationEvent), 0, len(t.listeners))
	for _, fn := range t.listeners {
		listeners = append(listeners, fn)
	}
	t.mu.Unlock()
	if len(event.KeyIDs) > 0 {
		for _, fn := range listeners {
			fn(event)
		}
	}
	return r, nil
}

// OnRevocation registers fn to be called (outside Trust's lock) whenever a
// revocation list revokes new keys; the returned function unregisters it.
func (t *Trust) OnRevocation(fn func(RevocationEvent)) (cancel func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.nextID
	t.nextID++
	t.listeners[id] = fn
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.listeners, id)
	}
}

// IsRevoked reports whether a key id is on the installed list.
func (t *Trust) IsRevoked(keyID []byte) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.revocation != nil && t.revocation.Contains(keyID)
}

// CheckHighRisk fails closed unless a fresh policy is installed and the
// revocation list is at least as new as the policy demands. New sessions
// and new trust material pass through it.
func (t *Trust) CheckHighRisk(now time.Time) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.policy == nil {
		return ErrPolicyMissing
	}
	if err := t.policy.Fresh(now); err != nil {
		return err
	}
	if min := t.policy.MinRevocationSeq; min > 0 && (t.revocation == nil || t.revocation.Sequence < min) {
		return fmt.Errorf("policy needs revocation list %d: %w", min, ErrRevocationStale)
	}
	return nil
}

func (t *Trust) verifyOptions(now time.Time) VerifyOptions {
	opts := VerifyOptions{Now: now, IsRevoked: t.IsRevoked}
	if p := t.Policy(); p != nil {
		opts.AllowSignature = p.AllowsSignature
	}
	return opts
}

// VerifyDevice verifies a device's chain: it must lead to an anchor, be
// valid, unrevoked and allowed by policy, and end in a non-CA leaf.
func (t *Trust) VerifyDevice(chainBytes []byte, now time.Time) (*Certificate, error) {
	chain, err := ParseChain(chainBytes)
	if err != nil {
		return nil, err
	}
	leaf, err := VerifyChain(chain, t.anchors, t.verifyOptions(now))
	if err != nil {
		return nil, err
	}
	if leaf.CA {
		return nil, fmt.Errorf("%s is a CA, not a device: %w", leaf.Subject, ErrMalformed)
	}
	if p := t.Policy(); p != nil {
		for _, k := range leaf.KEMKeys {
			if !p.AllowsKEM(k.Alg) {
				return nil, fmt.Errorf("%s certifies %s: %w", leaf.Subject, k.Alg, ErrAlgorithmNotAllowed)
			}
		}
	}
	return leaf, nil
}

// AcceptAnnouncement verifies an announcement received on topic and
// records the peer's keys. Epochs only go up: a lower epoch is
// ErrLowerEpoch, the same epoch with other keys ErrEpochConflict, the same
// keys again changes nothing. The previous epoch stays acceptable for the
// overlap window.
func (t *Trust) AcceptAnnouncement(data []byte, topic string, now time.Time) (*Announcement, error) {
	if err := t.CheckHighRisk(now); err != nil {
		return nil, err
	}
	obj, c, err := parseAnnouncement(data, topic)
	if err != nil {
		return nil, err
	}
	a, err := t.verifyAnnouncement(obj, c, now)
	if err != nil {
		return nil, err
	}
	return a, t.recordPeer(a, now)
}

// AddPeer records a device's keys from its certificate chain alone, for
// peers provisioned out of band (a file, a commissioning tool) rather than
// announced. The chain gets the checks an announcement's chain gets, and
// the peer is recorded under the same epoch rules; there is no topic or
// announcement signature to check.
func (t *Trust) AddPeer(chain []byte, now time.Time) (*Announcement, error) {
	if err := t.CheckHighRisk(now); err != nil {
		return nil, err
	}
	leaf, err := t.VerifyDevice(chain, now)
	if err != nil {
		return nil, err
	}
	a := &Announcement{Claims: AnnouncementClaims{DeviceID: leaf.Subject, Timestamp: now.Unix(), Chain: chain},
		Cert: leaf, DeviceID: leaf.Subject, SigKey: leaf.SigKey, KEMKeys: leaf.KEMKeys, Epoch: leaf.Epoch, KeyID: leaf.KeyID}
	return a, t.recordPeer(a, now)
}

func (t *Trust) verifyAnnouncement(obj *signedObject, c *AnnouncementClaims, now time.Time) (*Announcement, error) {
	a := &Announcement{Claims: *c, DeviceID: c.DeviceID}
	switch {
	case len(c.Chain) > 0:
		if c.SigKey != nil || len(c.KEMKeys) > 0 {
			return nil, fmt.Errorf("announcement carries both a chain and bare keys: %w", ErrMalformed)
		}
		leaf, err := t.VerifyDevice(c.Chain, now)
		if err != nil {
			return nil, err
		}
		if leaf.Subject != c.DeviceID {
			return nil, fmt.Errorf("announcement for %q with the certificate of %q: %w", c.DeviceID, leaf.Subject, ErrContextMismatch)
		}
		a.Cert, a.SigKey, a.KEMKeys, a.Epoch, a.KeyID = leaf, leaf.SigKey, leaf.KEMKeys, leaf.Epoch, leaf.KeyID
	case t.AllowTOFU && c.SigKey != nil:
		if err := c.SigKey.checkSignatureKey(); err != nil {
			return nil, err
		}
		for _, k := range c.KEMKeys {
			if err := k.checkKEMKey(); err != nil {
				return nil, err
			}
		}
		a.SigKey, a.KEMKeys, a.KeyID = *c.SigKey, c.KEMKeys, computeKeyID(*c.SigKey, c.KEMKeys)
		if t.IsRevoked(a.KeyID) {
			return nil, fmt.Errorf("%s: %w", c.DeviceID, ErrRevoked)
		}
	default:
		return nil, fmt.Errorf("%s: %w", c.DeviceID, ErrNoCertificate)
	}
	if err := obj.verify(a.SigKey, []byte(c.Topic)); err != nil {
		return nil, fmt.Errorf("announcement of %s: %w", c.DeviceID, err)
	}
	return a, nil
}

func (t *Trust) recordPeer(a *Announcement, now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.peers[a.DeviceID]
	if !ok {
		t.peers[a.DeviceID] = &Peer{DeviceID: a.DeviceID, Current: a}
		return nil
	}
	cur := p.Current
	switch {
	case a.Epoch < cur.Epoch:
		return fmt.Errorf("%s announced epoch %d after %d: %w", a.DeviceID, a.Epoch, cur.Epoch, ErrLowerEpoch)
	case a.Epoch == cur.Epoch && !bytes.Equal(a.KeyID, cur.KeyID):
		return fmt.Errorf("%s epoch %d: %w", a.DeviceID, a.Epoch, ErrEpochConflict)
	case a.Epoch == cur.Epoch:
		p.Current = a // same keys; a newer timestamp or chain is fine
		return nil
	}
	overlap := t.Overlap
	if t.policy != nil && t.policy.OverlapSeconds > 0 {
		overlap = time.Duration(t.policy.OverlapSeconds) * time.Second
	}
	p.Previous, p.PreviousUntil, p.Current = cur, now.Add(overlap), a
	return nil
}

// Peer returns what is known of a device, if anything.
func (t *Trust) Peer(deviceID string) (*Peer, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.peers[deviceID]
	if !ok {
		return nil, false
	}
	cp := *p
	return &cp, true
}

// PeerKeyValid reports whether keyID is an acceptable key of deviceID now:
// its current epoch, or the previous one within the overlap, and not
// revoked. The session layer calls it before using a peer's keys.
func (t *Trust) PeerKeyValid(deviceID string, keyID []byte, now time.Time) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.peers[deviceID]
	if !ok {
		return fmt.Errorf("%s: %w", deviceID, ErrNoCertificate)
	}
	if t.revocation != nil && t.revocation.Contains(keyID) {
		return fmt.Errorf("%s key %x: %w", deviceID, keyID, ErrRevoked)
	}
	latest := t.advance(now)
	if bytes.Equal(p.Current.KeyID, keyID) {
		return certValid(p.Current, now)
	}
	if p.Previous != nil && bytes.Equal(p.Previous.KeyID, keyID) && latest.Before(p.PreviousUntil) {
		return certValid(p.Previous, now)
	}
	return fmt.Errorf("%s key %x is not its current epoch: %w", deviceID, keyID, ErrLowerEpoch)
}

// certValid: an announced key is only as good as its certificate, which
// may expire long after the announcement was accepted. TOFU keys have none.
func certValid(a *Announcement, now time.Time) error {
	if a.Cert == nil {
		return nil
	}
	if err := a.Cert.ValidAt(now); err != nil {
		return fmt.Errorf("%s key %x: %w", a.DeviceID, a.KeyID, err)
	}
	return nil
}

// advance records now and returns the latest time seen.
func (t *Trust) advance(now time.Time) time.Time {
	n := now.UnixNano()
	for {
		old := t.latest.Load()
		if n <= old {
			return time.Unix(0, old)
		}
		if t.latest.CompareAndSwap(old, n) {
			return now
		}
	}
}
