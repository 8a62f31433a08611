package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// pqc_session_manager and pqc_session: core/session's Manager, Sealer and
// Opener over a device identity, and its established sessions. The core
// objects are safe for concurrent use and serialize each session with its
// own mutex, so the data path takes no lock here; the manager object's lock
// guards only the set of sessions already handed out by a handshake.

// Flags of pqc_session_manager_new.
const sessionFlagResume = 1

const (
	// handshakeMax is PQC_HANDSHAKE_MAX_BYTES: Init and Response frames
	// are bounded by it, so calls that take a counter or make a session
	// can demand it up front.
	handshakeMax = session.MaxHandshakeSize
	// deviceIDMax is PQC_DEVICE_ID_MAX_BYTES: identity's id syntax allows
	// 128 bytes, plus the NUL.
	deviceIDMax = 129
	// Fixed parts of a data frame (docs/protocol.md §2.5): version, type,
	// session id, ratchet key, pn, n, flags; then the GCM tag.
	dataHeaderSize = 2 + session.SessionIDSize + 32 + 4 + 4 + 1
	gcmTag         = 16
	maxContext     = session.MaxContextLen
)

// frameOverheadMax bounds frame length minus plaintext length over every
// suite: a frame may carry a KEM key and a ciphertext during a
// post-quantum step. protect needs it up front because it advances the
// ratchet; a retry after PQC_ERR_BUFFER_TOO_SMALL would otherwise need a
// second, different frame.
var frameOverheadMax = func() int {
	most := 0
	for s := session.Suite(1); s.KEMName() != ""; s++ {
		k, err := pqc.KEMByName(s.KEMName())
		if err != nil {
			continue
		}
		most = max(most, k.PublicKeySize()+k.CiphertextSize())
	}
	return dataHeaderSize + most + gcmTag
}()

// sealOverheadMax bounds a sealed frame's length minus its plaintext
// (docs/protocol.md §1.1): ids at their longest, any registered KEM's
// ciphertext and any registered signature.
var sealOverheadMax = func() int {
	ct, sig := 0, 0
	for _, n := range pqc.KEMNames() {
		if k, err := pqc.KEMByName(n); err == nil {
			ct = max(ct, k.CiphertextSize())
		}
	}
	for _, n := range pqc.SignatureNames() {
		if s, err := pqc.SignatureByName(n); err == nil {
			sig = max(sig, s.SignatureMaxSize())
		}
	}
	const id = 1 + 128 + session.KeyIDSize
	return 2 + 2*id + 8 + 1 + 2 + ct + 2 + gcmTag + 2 + sig
}()

type managerObject struct {
	id     *identityObject
	local  *session.Local
	trust  *identity.Trust
	m      *session.Manager
	sealer *session.Sealer
	opener *session.Opener

	mu      sync.Mutex
	handed  map[*session.Session]bool
	resumed []byte // ids of the sessions restored at creation, concatenated
}

type sessionObject struct {
	mgr *managerObject
	s   *session.Session
}

//export pqc_session_manager_new
func pqc_session_manager_new(idh C.uintptr_t, flags C.uint32_t, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	if flags&^sessionFlagResume != 0 {
		return fail(argError(fmt.Sprintf("unknown session manager flags %#x", uint32(flags))))
	}
	return withIdentity(idh, func(o *identityObject) error {
		trust, err := o.trust(nil)
		if err != nil {
			return err
		}
		local, err := session.LocalFromDevice(o.dev, time.Now())
		if err != nil {
			return err
		}
		cfg := session.Config{Local: local, Trust: trust, Store: o.st, Resume: flags&sessionFlagResume != 0}
		m := session.NewManager(cfg)
		// Without the flag this deletes stale snapshots, as core/session
		// intends: no key material of old sessions stays on disk.
		restored, err := m.Resume()
		if err != nil {
			m.Close()
			local.Wipe()
			return err
		}
		opener, err := session.NewOpener(cfg)
		if err != nil {
			m.Close()
			local.Wipe()
			return err
		}
		mo := &managerObject{id: o, local: local, trust: trust, m: m, sealer: session.NewSealer(cfg),
			opener: opener, handed: map[*session.Session]bool{}}
		for _, s := range restored {
			sid := s.ID()
			mo.resumed = append(mo.resumed, sid[:]...)
		}
		*out = C.uintptr_t(handles.add(mo))
		return nil
	})
}

//export pqc_session_manager_free
func pqc_session_manager_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	mo, ok := release[*managerObject](uintptr(h))
	if !ok {
		return
	}
	mo.m.Close()
	if !mo.id.freed.Load() {
		// Exact replay windows for the next process; without them it
		// falls back to the durable high-water marks, which is safe.
		_ = mo.opener.Close()
	}
	mo.local.Wipe()
}

func withManager(h C.uintptr_t, fn func(*managerObject) error) C.int {
	mo, ok := lookup[*managerObject](uintptr(h))
	if !ok {
		return fail(closedError("pqc_session_manager", h))
	}
	if mo.id.freed.Load() {
		return fail(fmt.Errorf("the identity of session manager %#x was freed: %w", uint64(h), errClosed))
	}
	if err := fn(mo); err != nil {
		return fail(err)
	}
	return statusOK
}

// newSessionHandle issues a handle for s. A session may have several (one
// from its handshake, more from find); each is released on its own.
func (mo *managerObject) newSessionHandle(s *session.Session) uintptr {
	return handles.add(&sessionObject{mgr: mo, s: s})
}

// firstHandout reports whether s is handed out by a handshake for the
// first time: a retransmitted Init yields the session its caller already
// holds, and a second handle would be one nobody frees.
func (mo *managerObject) firstHandout(s *session.Session) bool {
	mo.mu.Lock()
	defer mo.mu.Unlock()
	if mo.handed[s] {
		return false
	}
	mo.handed[s] = true
	return true
}

// boundedString reads a NUL-terminated string of at most max bytes without
// reading past the terminator.
func boundedString(p *C.char, limit int, what string) (string, error) {
	if p == nil {
		return "", argError(what + " is NULL")
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), limit+1)
	for i := range b {
		if b[i] == 0 {
			return string(b[:i]), nil
		}
	}
	return "", argError(fmt.Sprintf("%s is longer than %d bytes", what, limit))
}

//export pqc_session_manager_add_peer
func pqc_session_manager_add_peer(h C.uintptr_t, chain *C.uint8_t, chainLen C.size_t, deviceID *C.char, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		c, err := input(chain, chainLen, "chain")
		if err != nil {
			return err
		}
		// Check the output first so that a failed call records nothing.
		if deviceID != nil || outLen != nil {
			if err := requireCapacity((*C.uint8_t)(unsafe.Pointer(deviceID)), capacity, outLen, deviceIDMax, "device id"); err != nil {
				return err
			}
		}
		a, err := mo.trust.AddPeer(c, time.Now())
		if err != nil {
			return err
		}
		if outLen == nil {
			return nil
		}
		return writeString(deviceID, capacity, outLen, a.DeviceID, "device id")
	})
}

//export pqc_session_manager_accept_announcement
func pqc_session_manager_accept_announcement(h C.uintptr_t, ann *C.uint8_t, annLen C.size_t, topic *C.char) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		a, err := input(ann, annLen, "announcement")
		if err != nil {
			return err
		}
		t, err := boundedString(topic, maxContext, "topic")
		if err != nil {
			return err
		}
		_, err = mo.trust.AcceptAnnouncement(a, t, time.Now())
		return err
	})
}

//export pqc_session_manager_enforce_policy
func pqc_session_manager_enforce_policy(h C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		mo.m.EnforcePolicy()
		return nil
	})
}

//export pqc_session_manager_resumed
func pqc_session_manager_resumed(h C.uintptr_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		if len(mo.resumed) == 0 && outLen != nil {
			*outLen = 0 // nothing to write: no buffer needed
			return nil
		}
		return writeVar(out, capacity, outLen, mo.resumed, "session ids")
	})
}

//export pqc_session_initiate
func pqc_session_initiate(h C.uintptr_t, peer, context *C.char, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		if err := requireCapacity(out, capacity, outLen, handshakeMax, "Init frame"); err != nil {
			return err
		}
		p, err := boundedString(peer, deviceIDMax-1, "peer id")
		if err != nil {
			return err
		}
		ctx, err := boundedString(context, maxContext, "context")
		if err != nil {
			return err
		}
		frame, err := mo.m.Initiate(p, ctx)
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, frame, "Init frame")
	})
}

//export pqc_session_handle_handshake
func pqc_session_handle_handshake(h C.uintptr_t, frame *C.uint8_t, frameLen C.size_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sess *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		if err := clearOut(sess); err != nil {
			return err
		}
		if err := requireCapacity(out, capacity, outLen, handshakeMax, "handshake reply"); err != nil {
			return err
		}
		f, err := input(frame, frameLen, "handshake frame")
		if err != nil {
			return err
		}
		reply, s, err := mo.m.HandleHandshake(f)
		if err != nil {
			return err
		}
		if err := writeVar(out, capacity, outLen, reply, "handshake reply"); err != nil {
			return err
		}
		if s != nil {
			if mo.firstHandout(s) {
				*sess = C.uintptr_t(mo.newSessionHandle(s))
			}
		}
		return nil
	})
}

//export pqc_session_manager_find
func pqc_session_manager_find(h C.uintptr_t, sid *C.uint8_t, sidLen C.size_t, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		if err := clearOut(out); err != nil {
			return err
		}
		id, err := sessionID(sid, sidLen)
		if err != nil {
			return err
		}
		s, ok := mo.m.Session(id)
		if !ok {
			return fmt.Errorf("%w: %x", session.ErrUnknownSession, id)
		}
		*out = C.uintptr_t(mo.newSessionHandle(s))
		return nil
	})
}

func sessionID(p *C.uint8_t, n C.size_t) ([session.SessionIDSize]byte, error) {
	var id [session.SessionIDSize]byte
	if n != session.SessionIDSize {
		return id, argError(fmt.Sprintf("session id is %d bytes, want %d", uint64(n), session.SessionIDSize))
	}
	b, err := input(p, n, "session id")
	if err != nil {
		return id, err
	}
	copy(id[:], b)
	return id, nil
}

//export pqc_session_manager_unprotect
func pqc_session_manager_unprotect(h C.uintptr_t, frame *C.uint8_t, frameLen C.size_t, context *C.char, out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sidOut *C.uint8_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		if err := requireCapacity(out, capacity, outLen, int(min(uint64(frameLen), maxInput)), "plaintext"); err != nil {
			return err
		}
		ctx, err := boundedString(context, maxContext, "context")
		if err != nil {
			return err
		}
		f, err := input(frame, frameLen, "frame")
		if err != nil {
			return err
		}
		s, pt, err := mo.m.Unprotect(f, ctx)
		if err != nil {
			return err
		}
		if sidOut != nil {
			id := s.ID()
			copy(unsafe.Slice((*byte)(unsafe.Pointer(sidOut)), len(id)), id[:])
		}
		err = writeVar(out, capacity, outLen, pt, "plaintext")
		clear(pt)
		return err
	})
}

//export pqc_session_frame_overhead_max
func pqc_session_frame_overhead_max() C.size_t { return C.size_t(frameOverheadMax) }

//export pqc_seal_overhead_max
func pqc_seal_overhead_max() C.size_t { return C.size_t(sealOverheadMax) }

//export pqc_session_free
func pqc_session_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	// Only the handle goes; the session stays in its manager (routing,
	// snapshots for PQC_SESSION_RESUME), so that releasing handles at
	// shutdown, in any order, does not end sessions meant to be resumed.
	release[*sessionObject](uintptr(h))
}

//export pqc_session_close
func pqc_session_close(h C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	so, ok := lookup[*sessionObject](uintptr(h))
	if !ok {
		return fail(closedError("pqc_session", h))
	}
	so.s.Close()
	so.mgr.mu.Lock()
	delete(so.mgr.handed, so.s)
	so.mgr.mu.Unlock()
	return statusOK
}

func withSession(h C.uintptr_t, fn func(*session.Session, *sessionObject) error) C.int {
	so, ok := lookup[*sessionObject](uintptr(h))
	if !ok {
		return fail(closedError("pqc_session", h))
	}
	if so.mgr.id.freed.Load() {
		return fail(fmt.Errorf("the identity of session %#x was freed: %w", uint64(h), errClosed))
	}
	if err := fn(so.s, so); err != nil {
		return fail(err)
	}
	return statusOK
}

//export pqc_session_id
func pqc_session_id(h C.uintptr_t, out *C.uint8_t, outLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withSession(h, func(s *session.Session, _ *sessionObject) error {
		id := s.ID()
		buf, err := output(out, outLen, len(id), "session id")
		if err != nil {
			return err
		}
		copy(buf, id[:])
		return nil
	})
}

//export pqc_session_peer_id
func pqc_session_peer_id(h C.uintptr_t, out *C.char, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withSession(h, func(s *session.Session, _ *sessionObject) error {
		return writeString(out, capacity, outLen, s.Peer(), "peer id")
	})
}

//export pqc_session_needs_reply
func pqc_session_needs_reply(h C.uintptr_t, needs *C.int) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withSession(h, func(s *session.Session, _ *sessionObject) error {
		if needs == nil {
			return argError("needs is NULL")
		}
		*needs = boolInt(s.NeedsReply())
		return nil
	})
}

//export pqc_session_save
func pqc_session_save(h C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withSession(h, func(s *session.Session, so *sessionObject) error {
		return session.SaveSession(so.mgr.id.st, s)
	})
}

// protectNeed is the capacity protect demands for a plaintext of n bytes.
func protectNeed(n uint64) (int, error) {
	if n > session.MaxPlaintext {
		return 0, fmt.Errorf("%w: %d-byte message, at most %d", session.ErrMalformed, n, session.MaxPlaintext)
	}
	return int(n) + frameOverheadMax, nil
}

//export pqc_session_protect
func pqc_session_protect(h C.uintptr_t, pt *C.uint8_t, ptLen C.size_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withSession(h, func(s *session.Session, _ *sessionObject) error {
		need, err := protectNeed(uint64(ptLen))
		if err != nil {
			return err
		}
		if err := requireCapacity(out, capacity, outLen, need, "frame"); err != nil {
			return err
		}
		p, err := input(pt, ptLen, "plaintext")
		if err != nil {
			return err
		}
		frame, err := s.Protect(p)
		clear(p)
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, frame, "frame")
	})
}

//export pqc_session_unprotect
func pqc_session_unprotect(h C.uintptr_t, frame *C.uint8_t, frameLen C.size_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withSession(h, func(s *session.Session, _ *sessionObject) error {
		// The plaintext is shorter than its frame; asking for the frame's
		// length keeps the rule one line long for callers.
		if err := requireCapacity(out, capacity, outLen, int(min(uint64(frameLen), maxInput)), "plaintext"); err != nil {
			return err
		}
		f, err := input(frame, frameLen, "frame")
		if err != nil {
			return err
		}
		pt, err := s.Unprotect(f)
		if err != nil {
			return err
		}
		err = writeVar(out, capacity, outLen, pt, "plaintext")
		clear(pt)
		return err
	})
}

// batchInputs reads count (pointer, length) pairs from C arrays into Go
// copies, all before any state changes, and sums their lengths.
func batchInputs(ptrs **C.uint8_t, lens *C.size_t, count C.size_t, what string) ([][]byte, uint64, error) {
	if count == 0 {
		return nil, 0, nil
	}
	if ptrs == nil || lens == nil {
		return nil, 0, argError(what + " arrays are NULL")
	}
	if uint64(count) > maxInput/8 {
		return nil, 0, argError(fmt.Sprintf("%d %s", uint64(count), what))
	}
	ps := unsafe.Slice(ptrs, int(count))
	ns := unsafe.Slice(lens, int(count))
	out := make([][]byte, len(ps))
	var total uint64
	for i := range ps {
		// The name is formatted only on failure: this loop is the hot
		// path of batches, which exist to be cheap per message.
		b, err := input(ps[i], ns[i], what)
		if err != nil {
			return nil, 0, fmt.Errorf("%s[%d]: %w", what, i, err)
		}
		out[i] = b
		total += uint64(len(b))
		if total > maxInput {
			return nil, 0, argError(what + " total length too large")
		}
	}
	return out, total, nil
}

//export pqc_session_protect_batch
func pqc_session_protect_batch(h C.uintptr_t, msgs **C.uint8_t, lens *C.size_t, count C.size_t, out *C.uint8_t, capacity C.size_t, frameLens *C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withSession(h, func(s *session.Session, _ *sessionObject) error {
		if outLen == nil {
			return argError("out_len is NULL")
		}
		if count > 0 && frameLens == nil {
			return argError("frame_lens is NULL")
		}
		pts, total, err := batchInputs(msgs, lens, count, "messages")
		if err != nil {
			return err
		}
		if len(pts) == 0 {
			*outLen = 0
			return nil
		}
		for _, p := range pts {
			if _, err := protectNeed(uint64(len(p))); err != nil {
				return err
			}
		}
		need := total + uint64(len(pts))*uint64(frameOverheadMax)
		if need > math.MaxInt32 {
			return argError("batch too large")
		}
		if err := requireCapacity(out, capacity, outLen, int(need), "frames"); err != nil {
			return err
		}
		*outLen = 0
		if len(pts) == 0 {
			return nil
		}
		frames, perr := s.ProtectBatch(pts)
		for _, p := range pts {
			clear(p)
		}
		dst := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(need))
		fl := unsafe.Slice(frameLens, len(pts))
		off := 0
		for i := range fl {
			fl[i] = 0
			if i < len(frames) {
				off += copy(dst[off:], frames[i])
				fl[i] = C.size_t(len(frames[i]))
			}
		}
		*outLen = C.size_t(off)
		// Frames made before a failure used up chain positions: they are
		// delivered (frame_lens > 0) and must be sent.
		return perr
	})
}

//export pqc_session_unprotect_batch
func pqc_session_unprotect_batch(h C.uintptr_t, frames **C.uint8_t, lens *C.size_t, count C.size_t, out *C.uint8_t, capacity C.size_t, ptLens *C.size_t, statuses *C.int, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withSession(h, func(s *session.Session, _ *sessionObject) error {
		if outLen == nil {
			return argError("out_len is NULL")
		}
		if count > 0 && (ptLens == nil || statuses == nil) {
			return argError("pt_lens or statuses is NULL")
		}
		fs, total, err := batchInputs(frames, lens, count, "frames")
		if err != nil {
			return err
		}
		if len(fs) == 0 {
			*outLen = 0
			return nil
		}
		if err := requireCapacity(out, capacity, outLen, int(total), "plaintexts"); err != nil {
			return err
		}
		*outLen = 0
		if len(fs) == 0 {
			return nil
		}
		pts, errs := s.UnprotectBatch(fs)
		dst := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(total))
		pl := unsafe.Slice(ptLens, len(fs))
		st := unsafe.Slice(statuses, len(fs))
		off, first := 0, true
		for i := range fs {
			pl[i], st[i] = 0, statusOK
			if errs[i] != nil {
				st[i] = statusOf(errs[i])
				if first {
					// The detail of the first failure, for the log.
					setLastError(fmt.Sprintf("message %d: %v", i, errs[i]))
					first = false
				}
				continue
			}
			off += copy(dst[off:], pts[i])
			pl[i] = C.size_t(len(pts[i]))
			clear(pts[i])
		}
		*outLen = C.size_t(off)
		return nil
	})
}

//export pqc_seal
func pqc_seal(h C.uintptr_t, recipient, context *C.char, pt *C.uint8_t, ptLen C.size_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		if uint64(ptLen) > session.MaxSealedPlaintext {
			return fmt.Errorf("%w: %d-byte message, at most %d", session.ErrMalformed, uint64(ptLen), session.MaxSealedPlaintext)
		}
		if err := requireCapacity(out, capacity, outLen, int(ptLen)+sealOverheadMax, "sealed frame"); err != nil {
			return err
		}
		r, err := boundedString(recipient, deviceIDMax-1, "recipient id")
		if err != nil {
			return err
		}
		ctx, err := boundedString(context, maxContext, "context")
		if err != nil {
			return err
		}
		p, err := input(pt, ptLen, "plaintext")
		if err != nil {
			return err
		}
		defer clear(p)
		rcpt, err := session.RecipientOf(session.TrustPeers{Trust: mo.trust}, r, "", time.Now())
		if err != nil {
			return err
		}
		frame, err := mo.sealer.Seal(rcpt, ctx, p)
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, frame, "sealed frame")
	})
}

//export pqc_open
func pqc_open(h C.uintptr_t, frame *C.uint8_t, frameLen C.size_t, context *C.char, out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sender *C.char, senderCap C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withManager(h, func(mo *managerObject) error {
		if err := requireCapacity(out, capacity, outLen, int(min(uint64(frameLen), maxInput)), "plaintext"); err != nil {
			return err
		}
		if sender != nil && senderCap < deviceIDMax {
			return fmt.Errorf("sender buffer is %d bytes; this call needs %d up front: %w", uint64(senderCap), deviceIDMax, errBufferTooSmall)
		}
		ctx, err := boundedString(context, maxContext, "context")
		if err != nil {
			return err
		}
		f, err := input(frame, frameLen, "sealed frame")
		if err != nil {
			return err
		}
		m, err := mo.opener.Open(f, ctx)
		if err != nil {
			return err
		}
		err = writeVar(out, capacity, outLen, m.Plaintext, "plaintext")
		clear(m.Plaintext)
		if err != nil {
			return err
		}
		if sender != nil {
			var n C.size_t
			return writeString(sender, senderCap, &n, m.Sender, "sender")
		}
		return nil
	})
}
