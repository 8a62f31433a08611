package session

import (
	"fmt"
	"sync"
)

// Reserving message numbers ahead, off the hot path.
//
// A snapshot records both chains advanced SnapshotReserve numbers past
// where they are (see marshal): once it is durable, the live session may
// use numbers up to that ceiling without another write, and a restart
// resumes above it. Writing the snapshot (a keystore transaction and its
// fsync, milliseconds) under the session lock stalled every publisher of
// the session at each boundary. So the next reservation is made when half
// of the current one is used, and written by a background goroutine while
// the session goes on using numbers below the durable ceiling (see
// nextCeiling for how far it reserves). A caller
// waits only if it reaches the durable ceiling before the write finished;
// nothing is ever used above what is durable (rule 3).
//
// Snapshots carry a version. Writes of one session are serialised and a
// write older than what the store holds is skipped, so a slow background
// write can never replace a newer snapshot (a DH step saves synchronously
// and must not be overwritten by the reservation marshalled before it).

// persistState is the part of a Session that tracks its snapshots; the
// fields other than wmu/written/gone are guarded by the session's mu.
type persistState struct {
	cond   *sync.Cond // on the session's mu; signalled when a write ends
	saving bool       // a background write is in flight
	ver    uint64     // version of the latest snapshot marshalled
	durVer uint64     // version of the latest snapshot known durable
	durNs  uint32     // ceilings of that snapshot: numbers below are usable
	durNr  uint32
	err    error // a failed write: the session was wiped

	ceil [2]ceilingKey // sending and receiving chain keys at the last ceilings

	wmu     sync.Mutex // serialises store writes of this session
	written uint64     // version the store holds
	gone    bool       // dropped: no write may bring the record back
}

func (s *Session) waitSave() {
	if s.ps.cond == nil {
		s.ps.cond = sync.NewCond(&s.mu)
	}
	s.ps.cond.Wait()
}

// write stores snapshot b of version ver unless a newer one is there or
// the session was dropped.
func (s *Session) write(b []byte, ver uint64) error {
	s.ps.wmu.Lock()
	defer s.ps.wmu.Unlock()
	if s.ps.gone || ver <= s.ps.written {
		return nil
	}
	if err := s.m.cfg.Store.Put(stateName(s.id), b); err != nil {
		return err
	}
	s.ps.written = ver
	return nil
}

// snapshot marshals the current state as the next version; the caller
// holds s.mu.
func (s *Session) snapshot() ([]byte, uint64, error) {
	return s.snapshotAhead(s.m.cfg.SnapshotReserve, s.m.cfg.SnapshotReserve)
}

func (s *Session) snapshotAhead(aheadS, aheadR uint32) ([]byte, uint64, error) {
	b, err := s.marshalAhead(aheadS, aheadR)
	if err != nil {
		return nil, 0, err
	}
	s.ps.ver++
	return b, s.ps.ver, nil
}

// durable records that version ver with the given ceilings is in the
// store; the caller holds s.mu.
func (s *Session) durable(ver uint64, ns, nr uint32) {
	if ver > s.ps.durVer {
		s.ps.durVer, s.ps.durNs, s.ps.durNr = ver, ns, nr
	}
}

// failPersist closes the session after a write failed: the live state is
// ahead of anything durable, and going on could reuse keys or re-accept
// frames after a crash. The caller holds s.mu.
func (s *Session) failPersist(err error) error {
	err = fmt.Errorf("%w: %v", ErrPersist, err)
	s.ps.err = err
	s.wipe()
	return err
}

// save writes the session's snapshot now; the caller holds s.mu. DH steps
// and reservations a caller had to wait for come here.
func (m *Manager) save(s *Session) error {
	b, ver, err := s.snapshot()
	if err == nil {
		err = s.write(b, ver)
		clear(b)
	}
	if err != nil {
		return s.failPersist(err)
	}
	s.durable(ver, s.nsCeil, s.nrCeil)
	return nil
}

// reserveAhead starts a background write of the next reservation when
// half of the durable one is used in either direction and none is in
// flight; the caller holds s.mu.
func (s *Session) reserveAhead() {
	if s.ps.saving || s.closed {
		return
	}
	half := s.m.cfg.SnapshotReserve / 2
	if s.ns+half < s.ps.durNs && s.nr+half < s.ps.durNr {
		return
	}
	b, at, err := s.marshalUnadvanced(s.nextCeiling(s.ns, s.ps.durNs), s.nextCeiling(s.nr, s.ps.durNr))
	if err != nil {
		return // closed meanwhile; the next use fails on its own
	}
	s.ps.ver++
	ver, ns, nr := s.ps.ver, s.nsCeil, s.nrCeil
	s.ps.saving = true
	s.m.writes.Add(1)
	go func() {
		defer s.m.writes.Done()
		at.advance(b)
		err := s.write(b, ver)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ps.saving = false
		if err != nil && !s.closed {
			_ = s.failPersist(err)
		} else if err == nil && !s.closed {
			s.durable(ver, ns, nr)
			s.rememberCeilings(b, &at)
		}
		clear(b)
		if s.ps.cond != nil {
			s.ps.cond.Broadcast()
		}
	}()
}

// nextCeiling is how far ahead of at a background snapshot reserves on a
// chain whose durable ceiling is dur: a direction past half of its
// reservation gets one more reservation past dur (so there is one write
// per SnapshotReserve messages; a restart skips at most 1.5 reservations,
// never more than MaxJump, which the peer follows); an idle one keeps its
// ceiling, which costs nothing thanks to the cached ceiling key.
func (s *Session) nextCeiling(at, dur uint32) uint32 {
	r := s.m.cfg.SnapshotReserve
	switch {
	case dur <= at:
		return r
	case at+r/2 < dur:
		return dur - at
	default:
		return min(dur-at+r, uint32(s.m.cfg.MaxJump))
	}
}

// sendReserved makes sure message number s.ns is covered by a durable
// snapshot, waiting for a write in flight or writing one itself. It
// reports whether it released the lock meanwhile (the caller then checks
// the session's state again). The caller holds s.mu.
func (s *Session) sendReserved() (waited bool, err error) {
	for s.ns >= s.ps.durNs {
		if s.closed {
			return waited, s.closedErr()
		}
		if !s.ps.saving {
			return waited, s.m.save(s)
		}
		s.waitSave()
		waited = true
	}
	return waited, nil
}

// recvReserved waits while a frame numbered n on the current receiving
// chain is above the durable ceiling and a write is in flight: accepting
// it first could accept it twice after a crash. Afterwards the commit
// saves synchronously if the frame is still above the ceiling. The caller
// holds s.mu.
func (s *Session) recvReserved(d *dataFrame) {
	for s.ps.saving && !s.closed && d.pub == s.dhr && d.n >= s.ps.durNr {
		s.waitSave()
	}
}

// closedErr is the error of a wiped session: ErrClosed, with the write
// failure that closed it when there was one.
func (s *Session) closedErr() error {
	if s.ps.err != nil {
		return fmt.Errorf("%w after %w", ErrClosed, s.ps.err)
	}
	return ErrClosed
}

// forget marks the session's record as gone and deletes it, after any
// write in flight, so no late write can resurrect it.
func (s *Session) forget() {
	s.ps.wmu.Lock()
	defer s.ps.wmu.Unlock()
	s.ps.gone = true
	_ = s.m.cfg.Store.Delete(stateName(s.id))
}
