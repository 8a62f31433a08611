package identity

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// Record names in the keystore. Secret keys exist only inside these
// encrypted records and in memory while in use.
const (
	recDevice   = "identity/device"
	recCurrent  = "identity/keys/current"
	recPrevious = "identity/keys/previous"
	recPending  = "identity/keys/pending"
	recAnchors  = "trust/anchors"
	recPolicy   = "trust/policy"
	recRevoked  = "trust/revocation"
)

// ErrNoIdentity: the store holds no operational identity yet (the device
// has not installed a certificate), or no pending keys to install.
var ErrNoIdentity = errors.New("no operational identity")

type deviceRecord struct {
	DeviceID   string    `cbor:"1,keyasint"`
	FactoryPub PublicKey `cbor:"2,keyasint"`
	FactorySec []byte    `cbor:"3,keyasint"`
	SigAlg     string    `cbor:"4,keyasint"`
	KEMAlgs    []string  `cbor:"5,keyasint"`
}

// keysRecord is one epoch's key pairs and, once installed, its chain.
type keysRecord struct {
	SigPub PublicKey   `cbor:"1,keyasint"`
	SigSec []byte      `cbor:"2,keyasint"`
	KEMPub []PublicKey `cbor:"3,keyasint"`
	KEMSec [][]byte    `cbor:"4,keyasint"`
	Chain  []byte      `cbor:"5,keyasint,omitempty"`
	Epoch  uint64      `cbor:"6,keyasint"`
	Until  int64       `cbor:"7,keyasint,omitempty"` // previous keys: end of the overlap
}

func recordOf(k *OperationalKeys) keysRecord {
	r := keysRecord{SigPub: k.Sig.Public, SigSec: k.Sig.secret, KEMPub: k.KEMPublicKeys()}
	for _, kk := range k.KEMs {
		r.KEMSec = append(r.KEMSec, kk.secret)
	}
	return r
}

func (r *keysRecord) keys() (*OperationalKeys, error) {
	sig, err := SigningKeyFromBytes(r.SigPub, r.SigSec)
	if err != nil {
		return nil, err
	}
	k := &OperationalKeys{Sig: sig}
	if len(r.KEMPub) != len(r.KEMSec) {
		return nil, fmt.Errorf("stored KEM keys: %w", ErrMalformed)
	}
	for i := range r.KEMPub {
		kk, err := KEMKeyFromBytes(r.KEMPub[i], r.KEMSec[i])
		if err != nil {
			return nil, err
		}
		k.KEMs = append(k.KEMs, kk)
	}
	return k, nil
}

func (r *keysRecord) wipe() {
	clear(r.SigSec)
	for _, s := range r.KEMSec {
		clear(s)
	}
}

// Device is a device's identity in its keystore: the factory key, the
// operational keys of the current epoch (and of the previous one during the
// rotation overlap), and keys waiting for a certificate.
type Device struct {
	st  *store.Store
	rec deviceRecord
}

// InitDevice creates the factory identity of a new device in st. The
// factory key's public half goes to the CA's allow-list out of band.
func InitDevice(st *store.Store, deviceID, factoryAlg, sigAlg string, kemAlgs []string) (*Device, error) {
	if !ValidID(deviceID) {
		return nil, fmt.Errorf("device id %q: %w", deviceID, ErrMalformed)
	}
	if _, err := st.Get(recDevice); err == nil {
		return nil, fmt.Errorf("store already holds a device identity")
	}
	factory, err := NewSigningKey(factoryAlg)
	if err != nil {
		return nil, err
	}
	defer factory.Wipe()
	// Check the operational algorithms now, not at the first join.
	probe, err := NewOperationalKeys(sigAlg, kemAlgs)
	if err != nil {
		return nil, err
	}
	probe.Wipe()
	rec := deviceRecord{DeviceID: deviceID, FactoryPub: factory.Public, FactorySec: factory.secret, SigAlg: sigAlg, KEMAlgs: kemAlgs}
	if err := putCBOR(st, recDevice, rec); err != nil {
		return nil, err
	}
	rec.FactorySec = nil
	return &Device{st: st, rec: rec}, nil
}

// OpenDevice loads the device identity kept in st.
func OpenDevice(st *store.Store) (*Device, error) {
	var rec deviceRecord
	if err := getCBOR(st, recDevice, &rec); err != nil {
		return nil, fmt.Errorf("device identity: %w", err)
	}
	clear(rec.FactorySec)
	rec.FactorySec = nil
	return &Device{st: st, rec: rec}, nil
}

// ID is the device id.
func (d *Device) ID() string { return d.rec.DeviceID }

// FactoryKey is the factory public key, for the CA's allow-list.
func (d *Device) FactoryKey() PublicKey { return d.rec.FactoryPub }

// JoinRequest generates operational keys, keeps them as pending in the
// store, and returns a join request signed by the factory key.
func (d *Device) JoinRequest(nonce []byte, now time.Time) ([]byte, error) {
	var rec deviceRecord
	if err := getCBOR(d.st, recDevice, &rec); err != nil {
		return nil, err
	}
	factory, err := SigningKeyFromBytes(rec.FactoryPub, rec.FactorySec)
	clear(rec.FactorySec)
	if err != nil {
		return nil, err
	}
	defer factory.Wipe()
	keys, err := d.newPending()
	if err != nil {
		return nil, err
	}
	defer keys.Wipe()
	return NewJoinRequest(d.rec.DeviceID, factory, keys, nonce, now)
}

// RenewalRequest generates the next epoch's keys, keeps them pending, and
// returns a renewal request signed by the current operational key.
func (d *Device) RenewalRequest(now time.Time) ([]byte, error) {
	cur, err := d.load(recCurrent)
	if err != nil {
		return nil, err
	}
	defer cur.wipe()
	curKeys, err := cur.keys()
	if err != nil {
		return nil, err
	}
	defer curKeys.Wipe()
	next, err := d.newPending()
	if err != nil {
		return nil, err
	}
	defer next.Wipe()
	return NewRenewalRequest(d.rec.DeviceID, curKeys.Sig, cur.Chain, next, now)
}

func (d *Device) newPending() (*OperationalKeys, error) {
	keys, err := NewOperationalKeys(d.rec.SigAlg, d.rec.KEMAlgs)
	if err != nil {
		return nil, err
	}
	if err := putCBOR(d.st, recPending, recordOf(keys)); err != nil {
		keys.Wipe()
		return nil, err
	}
	return keys, nil
}

// Install takes the chain the CA issued for the pending keys. The chain
// must verify against trust, name this device and certify exactly the
// pending keys, with an epoch above the current one. The current keys
// become the previous ones, acceptable until now+overlap; older previous
// keys are destroyed. All of it is one atomic store transaction.
func (d *Device) Install(chainBytes []byte, trust *Trust, overlap time.Duration, now time.Time) (*Certificate, error) {
	leaf, err := trust.VerifyDevice(chainBytes, now)
	if err != nil {
		return nil, err
	}
	if leaf.Subject != d.rec.DeviceID {
		return nil, fmt.Errorf("certificate for %q installed on %q: %w", leaf.Subject, d.rec.DeviceID, ErrContextMismatch)
	}
	err = d.st.Update(func(tx *store.Tx) error {
		var pending, current keysRecord
		if err := txGetCBOR(tx, recPending, &pending); err != nil {
			return fmt.Errorf("pending keys: %w", err)
		}
		defer pending.wipe()
		if !bytes.Equal(computeKeyID(pending.SigPub, pending.KEMPub), leaf.KeyID) {
			return fmt.Errorf("certificate does not certify the pending keys: %w", ErrContextMismatch)
		}
		hasCurrent := txGetCBOR(tx, recCurrent, &current) == nil
		defer current.wipe()
		if hasCurrent && leaf.Epoch <= current.Epoch {
			return fmt.Errorf("epoch %d does not follow %d: %w", leaf.Epoch, current.Epoch, ErrLowerEpoch)
		}
		pending.Chain, pending.Epoch = chainBytes, leaf.Epoch
		if err := txPutCBOR(tx, recCurrent, pending); err != nil {
			return err
		}
		if hasCurrent {
			current.Until = now.Add(overlap).Unix()
			if err := txPutCBOR(tx, recPrevious, current); err != nil {
				return err
			}
		}
		return tx.Delete(recPending)
	})
	if err != nil {
		return nil, err
	}
	return leaf, nil
}

// Keys returns the current operational keys and chain. The caller wipes
// the keys when done.
func (d *Device) Keys() (*OperationalKeys, []byte, error) {
	rec, err := d.load(recCurrent)
	if err != nil {
		return nil, nil, err
	}
	defer rec.wipe()
	keys, err := rec.keys()
	return keys, rec.Chain, err
}

// PreviousKeys returns the previous epoch's keys while the overlap lasts.
func (d *Device) PreviousKeys(now time.Time) (*OperationalKeys, error) {
	rec, err := d.load(recPrevious)
	if err != nil {
		return nil, err
	}
	defer rec.wipe()
	if now.Unix() >= rec.Until {
		return nil, fmt.Errorf("previous keys past their overlap: %w", ErrNoIdentity)
	}
	return rec.keys()
}

// Prune destroys the previous epoch's secret keys once the overlap is
// over. It reports whether it destroyed anything.
func (d *Device) Prune(now time.Time) (bool, error) {
	rec, err := d.load(recPrevious)
	if errors.Is(err, ErrNoIdentity) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rec.wipe()
	if now.Unix() < rec.Until {
		return false, nil
	}
	return true, d.st.Delete(recPrevious)
}

// RotationDue reports whether the current certificate is older than
// interval (from policy or configuration) and a renewal should start.
func (d *Device) RotationDue(interval time.Duration, now time.Time) (bool, error) {
	_, chainBytes, err := d.keysPublic()
	if err != nil {
		return false, err
	}
	chain, err := ParseChain(chainBytes)
	if err != nil {
		return false, err
	}
	return !now.Before(time.Unix(chain[0].IssuedAt, 0).Add(interval)), nil
}

// Certificate returns the current leaf certificate and the encoded chain.
func (d *Device) Certificate() (*Certificate, []byte, error) {
	_, chainBytes, err := d.keysPublic()
	if err != nil {
		return nil, nil, err
	}
	chain, err := ParseChain(chainBytes)
	if err != nil {
		return nil, nil, err
	}
	return chain[0], chainBytes, nil
}

func (d *Device) keysPublic() (PublicKey, []byte, error) {
	rec, err := d.load(recCurrent)
	if err != nil {
		return PublicKey{}, nil, err
	}
	rec.wipe()
	return rec.SigPub, rec.Chain, nil
}

// Announcement signs an announcement of the current keys for topic.
func (d *Device) Announcement(topic string, now time.Time) ([]byte, error) {
	keys, chain, err := d.Keys()
	if err != nil {
		return nil, err
	}
	defer keys.Wipe()
	return NewAnnouncement(d.rec.DeviceID, topic, keys.Sig, chain, now)
}

func (d *Device) load(name string) (*keysRecord, error) {
	var rec keysRecord
	err := getCBOR(d.st, name, &rec)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", name, ErrNoIdentity)
	}
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// SaveTrust persists the anchors, policy and revocation list of t.
func SaveTrust(st *store.Store, t *Trust) error {
	return st.Update(func(tx *store.Tx) error {
		raws := make([][]byte, len(t.anchors))
		for i, a := range t.anchors {
			raws[i] = a.Raw
		}
		if err := txPutCBOR(tx, recAnchors, raws); err != nil {
			return err
		}
		if p := t.Policy(); p != nil {
			if err := tx.Put(recPolicy, p.Raw); err != nil {
				return err
			}
		}
		if r := t.Revocation(); r != nil {
			return tx.Put(recRevoked, r.Raw)
		}
		return nil
	})
}

// LoadTrust rebuilds trust state saved by SaveTrust. A policy that has
// expired since is still loaded (so monotonicity holds); CheckHighRisk will
// refuse until a fresh one arrives.
func LoadTrust(st *store.Store) (*Trust, error) {
	var raws [][]byte
	if err := getCBOR(st, recAnchors, &raws); err != nil {
		return nil, fmt.Errorf("trust anchors: %w", err)
	}
	t, err := NewTrust(raws...)
	if err != nil {
		return nil, err
	}
	if raw, err := st.Get(recPolicy); err == nil {
		p, err := ParsePolicy(raw, t.anchors)
		if err != nil {
			return nil, fmt.Errorf("stored policy: %w", err)
		}
		t.policy = p
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if raw, err := st.Get(recRevoked); err == nil {
		r, err := ParseRevocation(raw, t.anchors)
		if err != nil {
			return nil, fmt.Errorf("stored revocation list: %w", err)
		}
		t.revocation = r
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return t, nil
}

func putCBOR(st *store.Store, name string, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	defer clear(b)
	return st.Put(name, b)
}

func getCBOR(st *store.Store, name string, v any) error {
	b, err := st.Get(name)
	if err != nil {
		return err
	}
	defer clear(b)
	return unmarshalCanonical(b, v)
}

func txPutCBOR(tx *store.Tx, name string, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	defer clear(b)
	return tx.Put(name, b)
}

func txGetCBOR(tx *store.Tx, name string, v any) error {
	b, err := tx.Get(name)
	if err != nil {
		return err
	}
	defer clear(b)
	return unmarshalCanonical(b, v)
}
