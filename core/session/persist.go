package session

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/pqc-iiot/pqc-iiot/core/store"
)

const stateKind = 0x40 // second byte of a session snapshot

func (m *Manager) persists() bool { return m.cfg.Resume && m.cfg.Store != nil }

// MarshalBinary snapshots the session for a restart. The snapshot
// reserves the next Config.SnapshotReserve (64) message numbers in each direction: it records both
// chains already advanced past them, and the live session saves again
// before using them (when Config.Resume persists it). A restored session
// therefore never reuses a message key it may have used before the crash,
// and never accepts again a frame it may have accepted (frames in the
// reserved range, and out-of-order frames whose keys were kept, are
// dropped instead). Skipped message keys are not saved.
func (s *Session) MarshalBinary() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.marshal()
}

func (s *Session) marshal() ([]byte, error) {
	ahead := uint32(reserve)
	if s.m != nil {
		ahead = s.m.cfg.SnapshotReserve
	}
	return s.marshalAhead(ahead, ahead)
}

// marshalAhead snapshots with the sending chain advanced aheadS numbers
// and the receiving chain aheadR.
func (s *Session) marshalAhead(aheadS, aheadR uint32) ([]byte, error) {
	b, at, err := s.marshalUnadvanced(aheadS, aheadR)
	if err != nil {
		return nil, err
	}
	at.advance(b)
	s.rememberCeilings(b, &at)
	return b, nil
}

// chainSlot is one chain key of a snapshot: where it is, the key written
// there for now, and how many steps it must still be advanced to be the
// key at the ceiling pos of the chain named by pub (the ratchet key that
// began it).
type chainSlot struct {
	off   int
	steps uint32
	pub   [32]byte
	pos   uint32
}

// chainSlots are a snapshot's sending and receiving chain keys.
type chainSlots [2]chainSlot

// advance moves the chain keys in snapshot b to their ceilings. It needs
// nothing from the session, so background reservations run it outside
// the session's lock.
func (at *chainSlots) advance(b []byte) {
	for _, c := range at {
		ck, _ := advance([32]byte(b[c.off:c.off+32]), 0, c.steps)
		copy(b[c.off:], ck[:])
		clear(ck[:])
	}
}

// ceilingKey caches a chain key at a reserved ceiling. The next
// reservation of the same chain starts from it instead of from the
// current key, so each message number is derived ahead once, and an idle
// direction costs nothing per snapshot. It is a key the live chain will
// reach anyway, so keeping it in memory exposes nothing the current chain
// key does not.
type ceilingKey struct {
	ok  bool
	pub [32]byte
	pos uint32
	ck  [32]byte
}

// base returns the key to advance from to reach target on the chain pub,
// now at position at with key cur, and the steps needed.
func (c *ceilingKey) base(pub [32]byte, cur [32]byte, at, target uint32) ([32]byte, uint32) {
	if c.ok && c.pub == pub && c.pos >= at && c.pos <= target {
		return c.ck, target - c.pos
	}
	return cur, target - at
}

// rememberCeilings caches the advanced keys of snapshot b; the caller
// holds s.mu.
func (s *Session) rememberCeilings(b []byte, at *chainSlots) {
	for i, c := range at {
		s.ps.ceil[i] = ceilingKey{ok: true, pub: c.pub, pos: c.pos, ck: [32]byte(b[c.off : c.off+32])}
	}
}

// marshalUnadvanced writes the snapshot with chain keys not yet at their
// ceilings (see chainSlots); the snapshot may not be stored before
// chainSlots.advance ran on it.
func (s *Session) marshalUnadvanced(aheadS, aheadR uint32) ([]byte, chainSlots, error) {
	if s.closed {
		return nil, chainSlots{}, ErrClosed
	}
	nsCeil, nrCeil := s.ns+aheadS, s.nr+aheadR
	cks, stepsS := s.ps.ceil[0].base(s.dhsPub, s.cks, s.ns, nsCeil)
	ckr, stepsR := s.ps.ceil[1].base(s.dhr, s.ckr, s.nr, nrCeil)
	defer clear(cks[:])
	defer clear(ckr[:])
	w := writer{}
	w.u8(Version)
	w.u8(stateKind)
	w.raw(s.id[:])
	w.u8(byte(s.suite))
	w.u8(s.bits())
	w.str8(s.peer)
	w.raw(s.peerKey)
	w.str16(s.context)
	at := chainSlots{{steps: stepsS, pub: s.dhsPub, pos: nsCeil}, {steps: stepsR, pub: s.dhr, pos: nrCeil}}
	for i, k := range [][32]byte{s.rk, s.exporter, s.dhsPriv, s.dhsPub, s.dhr, cks, ckr, s.usedEK} {
		if i == 5 || i == 6 {
			at[i-5].off = len(w.b)
		}
		w.raw(k[:])
	}
	w.u32(nsCeil)
	w.u32(nrCeil)
	w.u32(s.pn)
	w.u64(s.pqCount)
	w.u64(uint64(s.pqAt))
	w.u8(byte(len(s.oldDHr)))
	for _, k := range s.oldDHr {
		w.raw(k[:])
	}
	w.u8(byte(len(s.dks)))
	for _, k := range s.dks {
		w.bytes16(k.ek)
		w.bytes16(k.dk)
	}
	w.bytes16(s.peerEK)
	w.bytes16(s.sendCT)
	if w.err != nil {
		clear(w.b)
		return nil, chainSlots{}, w.err
	}
	s.nsCeil, s.nrCeil = nsCeil, nrCeil
	return w.b, at, nil
}

// advance runs a chain n steps ahead, discarding the message keys.
func advance(ck [32]byte, at uint32, n uint32) ([32]byte, uint32) {
	for range n {
		ck = kdfNext(&ck)
	}
	return ck, at + n
}

const (
	bitInitiator = 1 << iota
	bitAnswered
	bitStepPending
	bitPeerAsked
)

func (s *Session) bits() byte {
	var b byte
	for _, f := range []struct {
		on  bool
		bit byte
	}{{s.initiator, bitInitiator}, {s.answered, bitAnswered}, {s.stepPending, bitStepPending}, {s.peerAsked, bitPeerAsked}} {
		if f.on {
			b |= f.bit
		}
	}
	return b
}

// UnmarshalBinary restores a snapshot into s. The session still needs a
// manager: use Manager.Resume or LoadSession.
func (s *Session) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.header(stateKind)
	copy(s.id[:], r.take(SessionIDSize))
	s.suite = Suite(r.u8())
	bits := r.u8()
	s.peer = string(r.bytes8())
	s.peerKey = append([]byte(nil), r.take(KeyIDSize)...)
	s.context = string(r.bytes16())
	for _, k := range []*[32]byte{&s.rk, &s.exporter, &s.dhsPriv, &s.dhsPub, &s.dhr, &s.cks, &s.ckr, &s.usedEK} {
		copy(k[:], r.take(32))
	}
	s.ns, s.nr, s.pn = r.u32(), r.u32(), r.u32()
	s.nsCeil, s.nrCeil = s.ns, s.nr
	s.restored = true
	s.pqCount, s.pqAt = r.u64(), int64(r.u64())
	n := int(r.u8())
	if n > maxOldDHr {
		return fmt.Errorf("%w: %d old ratchet keys", ErrMalformed, n)
	}
	s.oldDHr = make([][32]byte, n)
	for i := range s.oldDHr {
		copy(s.oldDHr[i][:], r.take(32))
	}
	if n = int(r.u8()); n > maxDKs {
		return fmt.Errorf("%w: %d KEM keys", ErrMalformed, n)
	}
	s.dks = nil
	for range n {
		s.dks = append(s.dks, kemPair{ek: clone(r.bytes16()), dk: clone(r.bytes16())})
	}
	s.peerEK, s.sendCT = clone(r.bytes16()), clone(r.bytes16())
	if err := r.end(); err != nil {
		return err
	}
	return s.checkRestored(bits)
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// checkRestored validates what a snapshot may not get wrong: a known
// suite, ids, and KEM material of the suite's sizes.
func (s *Session) checkRestored(bits byte) error {
	kem, err := s.suite.kem()
	if err != nil || !validID(s.peer) || bits&^0x0f != 0 {
		return fmt.Errorf("%w: session snapshot", ErrMalformed)
	}
	s.initiator, s.answered = bits&bitInitiator != 0, bits&bitAnswered != 0
	s.stepPending, s.peerAsked = bits&bitStepPending != 0, bits&bitPeerAsked != 0
	for _, k := range s.dks {
		if len(k.ek) != kem.PublicKeySize() || len(k.dk) != kem.SecretKeySize() {
			return fmt.Errorf("%w: snapshot KEM key sizes", ErrMalformed)
		}
	}
	if s.peerEK != nil && len(s.peerEK) != kem.PublicKeySize() || s.sendCT != nil && len(s.sendCT) != kem.CiphertextSize() {
		return fmt.Errorf("%w: snapshot KEM sizes", ErrMalformed)
	}
	return nil
}

// SaveSession writes s's snapshot into st (what a Manager with Resume does
// on its own at every DH step and reservation boundary).
func SaveSession(st *store.Store, s *Session) error {
	b, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	defer clear(b)
	return st.Put(stateName(s.id), b)
}

// LoadSession reads a snapshot from st and attaches it to m.
func LoadSession(st *store.Store, m *Manager, id [SessionIDSize]byte) (*Session, error) {
	b, err := st.Get(stateName(id))
	if err != nil {
		return nil, err
	}
	defer clear(b)
	s := &Session{m: m}
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	if s.id != id {
		return nil, fmt.Errorf("%w: snapshot of another session", ErrMalformed)
	}
	s.skipRestart()
	m.mu.Lock()
	m.sessions[id] = s
	m.made++
	s.made = m.made
	m.mu.Unlock()
	return s, nil
}

// skipRestart moves a restored sending chain past every number the peer
// may have reserved on it. The peer, if it restarted too, resumes its
// receiving chain at most 1.5 reservations above the last frame it saw,
// which is at or below our restored position; frames below its ceiling
// would be refused as replays and lost. So the sender skips 1.5
// reservations more (within MaxJump of a peer that did not restart: the
// configuration keeps 3 reservations under MaxJump). Nothing above the
// durable ceiling is used before a new snapshot covers it: the restored
// session has no durable ceiling yet, so its first send saves one.
func (s *Session) skipRestart() {
	r := s.m.cfg.SnapshotReserve
	s.cks, s.ns = advance(s.cks, s.ns, r+r/2)
	s.nsCeil = s.ns
}

// Resume restores every session saved in the store. Without
// Config.Resume it deletes them instead: a restart then forces new
// handshakes, and no key material of the old sessions survives on disk.
func (m *Manager) Resume() ([]*Session, error) {
	if m.cfg.Store == nil {
		return nil, nil
	}
	names, err := m.cfg.Store.List(statePrefix)
	if err != nil {
		return nil, err
	}
	var out []*Session
	for _, name := range names {
		if !m.cfg.Resume {
			if err := m.cfg.Store.Delete(name); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			continue
		}
		raw, err := hex.DecodeString(strings.TrimPrefix(name, statePrefix))
		if err != nil || len(raw) != SessionIDSize {
			return nil, fmt.Errorf("%w: record %q", ErrMalformed, name)
		}
		s, err := LoadSession(m.cfg.Store, m, [SessionIDSize]byte(raw))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
