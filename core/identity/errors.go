package identity

import "errors"

// Sentinel errors. Each names one reason to refuse, so operators and the C
// API can tell them apart.
var (
	ErrMalformed           = errors.New("malformed object")
	ErrTooLarge            = errors.New("object too large")
	ErrWrongKind           = errors.New("object of another kind")
	ErrBadSignature        = errors.New("signature does not verify")
	ErrUnknownIssuer       = errors.New("issuer is not a trusted CA")
	ErrNotCA               = errors.New("issuer is not a CA")
	ErrPathLength          = errors.New("certificate chain exceeds the CA's path length")
	ErrExpired             = errors.New("certificate expired")
	ErrNotYetValid         = errors.New("certificate not yet valid")
	ErrRevoked             = errors.New("key revoked")
	ErrLowerEpoch          = errors.New("key epoch lower than one already accepted")
	ErrEpochConflict       = errors.New("same key epoch with different keys")
	ErrReplay              = errors.New("request replayed")
	ErrStaleRequest        = errors.New("request timestamp outside the accepted window")
	ErrNotAllowed          = errors.New("factory key not on the allow-list")
	ErrAlgorithmNotAllowed = errors.New("algorithm not allowed by policy")
	ErrPolicyMissing       = errors.New("no fleet policy installed")
	ErrPolicyStale         = errors.New("fleet policy expired")
	ErrRollback            = errors.New("sequence number lower than the one installed")
	ErrRevocationStale     = errors.New("revocation list older than policy requires")
	ErrNoCertificate       = errors.New("announcement carries no certificate")
	ErrContextMismatch     = errors.New("object bound to another context")
)
