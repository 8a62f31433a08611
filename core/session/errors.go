package session

import "errors"

// Sentinel errors; callers test them with errors.Is. Errors from core/identity
// (identity.ErrRevoked, identity.ErrLowerEpoch, ...) pass through wrapped
// where they say more than these.
var (
	ErrMalformed      = errors.New("session: malformed frame")
	ErrReplay         = errors.New("session: replayed or too old")
	ErrAuth           = errors.New("session: authentication failed")
	ErrUnknownSession = errors.New("session: unknown session")
	ErrPolicy         = errors.New("session: refused by policy")
	ErrRekeyRequired  = errors.New("session: sending chain exhausted, peer must reply to ratchet")
	ErrExpired        = errors.New("session: handshake expired")
	ErrClosed         = errors.New("session: closed")
	ErrRateLimited    = errors.New("session: peer over its budget")
	ErrUnknownPeer    = errors.New("session: unknown peer")
	ErrWrongRecipient = errors.New("session: addressed to another device or key")
	ErrPersist        = errors.New("session: cannot persist state")
)
