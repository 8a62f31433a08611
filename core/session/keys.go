package session

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// KeyIDSize is the length of certificate key ids (identity's key-set id).
const KeyIDSize = 16

// EpochKeys are one epoch of a device's own operational keys.
type EpochKeys struct {
	KeyID []byte               // the certificate's key id (16 bytes)
	Sig   *identity.SigningKey // signs sealed frames and handshakes
	KEMs  []*identity.KEMKey   // receive sealed frames
}

// Local is the device's own identity as this package needs it: the current
// epoch and, during a rotation overlap, the previous one (accepted for
// incoming traffic, never used to send).
type Local struct {
	ID       string
	Current  *EpochKeys
	Previous *EpochKeys
	// PreviousUntil ends the overlap. Zero means the loader checked it:
	// LocalFromDevice leaves it zero because identity.Device does not
	// expose the overlap's end; reload after Device.Prune or Rotate.
	PreviousUntil time.Time
}

// LocalFromDevice loads the current and, if still in its overlap, the
// previous keys of d. The caller calls Wipe when done.
func LocalFromDevice(d *identity.Device, now time.Time) (*Local, error) {
	keys, _, err := d.Keys()
	if err != nil {
		return nil, err
	}
	l := &Local{ID: d.ID(), Current: &EpochKeys{KeyID: keys.KeyID(), Sig: keys.Sig, KEMs: keys.KEMs}}
	prev, err := d.PreviousKeys(now)
	switch {
	case err == nil:
		l.Previous = &EpochKeys{KeyID: prev.KeyID(), Sig: prev.Sig, KEMs: prev.KEMs}
	case !errors.Is(err, identity.ErrNoIdentity):
		l.Wipe()
		return nil, err
	}
	return l, nil
}

// Wipe destroys the secret keys held.
func (l *Local) Wipe() {
	for _, k := range []*EpochKeys{l.Current, l.Previous} {
		if k == nil {
			continue
		}
		k.Sig.Wipe()
		for _, kk := range k.KEMs {
			kk.Wipe()
		}
	}
}

// epoch returns own keys for keyID: the current epoch, or the previous one
// while its overlap lasts.
func (l *Local) epoch(keyID []byte, now time.Time) (*EpochKeys, error) {
	if l.Current != nil && bytes.Equal(l.Current.KeyID, keyID) {
		return l.Current, nil
	}
	if l.Previous != nil && bytes.Equal(l.Previous.KeyID, keyID) && (l.PreviousUntil.IsZero() || now.Before(l.PreviousUntil)) {
		return l.Previous, nil
	}
	return nil, fmt.Errorf("%w: key id %x is not ours", ErrWrongRecipient, keyID)
}

func (k *EpochKeys) kem(alg string) (*identity.KEMKey, error) {
	for _, kk := range k.KEMs {
		if kk.Public.Alg == alg {
			return kk, nil
		}
	}
	return nil, fmt.Errorf("%w: no %s key", ErrWrongRecipient, alg)
}

func (k *EpochKeys) sign(msg []byte) ([]byte, error) {
	s, err := pqc.SignatureByName(k.Sig.Public.Alg)
	if err != nil {
		return nil, err
	}
	return s.Sign(k.Sig.Secret(), msg)
}

// PeerKeys answers which keys of another device may be used now.
type PeerKeys interface {
	// SigningKey returns the signature key of deviceID's key set keyID if
	// that key set is acceptable at now, or an error (ErrUnknownPeer,
	// identity.ErrRevoked, identity.ErrLowerEpoch, ...).
	SigningKey(deviceID string, keyID []byte, now time.Time) (identity.PublicKey, error)
	// Current returns the current key id and KEM keys of deviceID, to
	// address it.
	Current(deviceID string, now time.Time) (keyID []byte, kems []identity.PublicKey, err error)
}

// TrustPeers implements PeerKeys over identity.Trust's accepted
// announcements.
type TrustPeers struct{ Trust *identity.Trust }

// SigningKey implements PeerKeys.
func (t TrustPeers) SigningKey(deviceID string, keyID []byte, now time.Time) (identity.PublicKey, error) {
	p, ok := t.Trust.Peer(deviceID)
	if !ok {
		return identity.PublicKey{}, fmt.Errorf("%w: %s", ErrUnknownPeer, deviceID)
	}
	if err := t.Trust.PeerKeyValid(deviceID, keyID, now); err != nil {
		return identity.PublicKey{}, err
	}
	for _, a := range []*identity.Announcement{p.Current, p.Previous} {
		if a != nil && bytes.Equal(a.KeyID, keyID) {
			return a.SigKey, nil
		}
	}
	return identity.PublicKey{}, fmt.Errorf("%w: %s key %x", ErrUnknownPeer, deviceID, keyID)
}

// Current implements PeerKeys.
func (t TrustPeers) Current(deviceID string, now time.Time) ([]byte, []identity.PublicKey, error) {
	p, ok := t.Trust.Peer(deviceID)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownPeer, deviceID)
	}
	if err := t.Trust.PeerKeyValid(deviceID, p.Current.KeyID, now); err != nil {
		return nil, nil, err
	}
	return p.Current.KeyID, p.Current.KEMKeys, nil
}

// verifySig checks sig over msg with a peer's public key.
func verifySig(pub identity.PublicKey, msg, sig []byte) error {
	s, err := pqc.SignatureByName(pub.Alg)
	if err != nil {
		return err
	}
	if err := s.Verify(pub.Key, msg, sig); err != nil {
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	return nil
}

// validID is identity's device id syntax, checked before any lookup:
// [A-Za-z0-9][A-Za-z0-9._:-]{0,127}, written out because it runs several
// times per frame and the regular expression was a measurable share of a
// session frame's cost. TestValidIDMatchesIdentity keeps the two equal.
func validID(s string) bool { return ValidID(s) }

// ValidID reports whether s is a valid device id (identity.ValidID's
// syntax) without a regular expression.
func ValidID(s string) bool { return validIDOf(s) }

func validIDBytes(b []byte) bool { return validIDOf(b) }

func validIDOf[T string | []byte](s T) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return true
}
