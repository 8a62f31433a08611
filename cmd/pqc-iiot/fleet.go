package main

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

func policySign(e *env, args []string) error {
	fs := newFlags(e, "policy sign", "Sign a fleet policy with the CA key. The sequence number is the CA's next one, so devices accept it over every earlier policy.")
	dir := fs.String("dir", "", "CA directory")
	out := fs.String("out", "", "policy output file")
	ttl := fs.Duration("ttl", 7*24*time.Hour, "how long devices may rely on this policy")
	var kems, sigs listFlag
	fs.Var(&kems, "allow-kem", "allowed KEM (repeatable; default ML-KEM-768 and X25519-ML-KEM-768)")
	fs.Var(&sigs, "allow-sig", "allowed signature scheme (repeatable; default ML-DSA-65)")
	rekeyMsgs := fs.Uint64("rekey-messages", 10000, "post-quantum ratchet step every N messages")
	rekeySecs := fs.Uint64("rekey-seconds", 3600, "... or every T seconds")
	peerRate := fs.Float64("peer-rate", 20, "per-peer budget: expensive operations per second")
	peerBurst := fs.Uint("peer-burst", 40, "per-peer budget: burst")
	globalRate := fs.Float64("global-rate", 2000, "global budget: expensive operations per second")
	globalBurst := fs.Uint("global-burst", 4000, "global budget: burst")
	requireSessions := fs.Bool("require-sessions", false, "refuse one-shot sealed messages")
	minRev := fs.Uint64("min-revocation-seq", 0, "devices must hold at least this revocation list")
	rotation := fs.Duration("rotation", 30*24*time.Hour, "operational key lifetime")
	overlap := fs.Duration("overlap", 24*time.Hour, "how long peers accept the previous epoch")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "dir", "out"); err != nil {
		return err
	}
	if len(kems) == 0 {
		kems = listFlag{"ML-KEM-768", pqc.HybridKEMName}
	}
	if len(sigs) == 0 {
		sigs = listFlag{identity.DefaultSignature}
	}
	if err := canonicalNames(kems, pqc.KEMByName); err != nil {
		return err
	}
	if err := canonicalNames(sigs, func(n string) (pqc.Signature, error) { return pqc.SignatureByName(n) }); err != nil {
		return err
	}
	ca, closer, err := openCA(*dir, *pp)
	if err != nil {
		return err
	}
	defer closer.Close()
	now := time.Now()
	signed, err := ca.SignPolicy(identity.PolicyClaims{
		IssuedAt: now.Unix(), Expiry: now.Add(*ttl).Unix(),
		AllowedKEMs: kems, AllowedSigs: sigs,
		RekeyMessages: *rekeyMsgs, RekeySeconds: *rekeySecs,
		PeerBudget:      identity.RateLimit{Rate: *peerRate, Burst: uint32(*peerBurst)},
		GlobalBudget:    identity.RateLimit{Rate: *globalRate, Burst: uint32(*globalBurst)},
		RequireSessions: *requireSessions, MinRevocationSeq: *minRev,
		RotationSeconds: uint64(rotation.Seconds()), OverlapSeconds: uint64(overlap.Seconds()),
	})
	if err != nil {
		return err
	}
	p, err := identity.ParsePolicy(signed, []*identity.Certificate{ca.CA.Cert})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "policy %d signed, valid until %s\n", p.Sequence, time.Unix(p.Expiry, 0).UTC().Format(time.RFC3339))
	return writeOut(*out, signed)
}

// canonicalNames replaces each name by the registry's spelling, so a policy
// compares names exactly; an unknown name is a usage error.
func canonicalNames[T interface{ Name() string }](names listFlag, lookup func(string) (T, error)) error {
	for i, n := range names {
		v, err := lookup(n)
		if err != nil {
			return fmt.Errorf("%v: %w", err, errUsage)
		}
		names[i] = v.Name()
	}
	return nil
}

func revoke(e *env, args []string) error {
	fs := newFlags(e, "revoke", "Add keys to the CA's cumulative revocation list and write the whole signed list (every list carries every revoked key).")
	dir := fs.String("dir", "", "CA directory")
	out := fs.String("out", "", "revocation list output file")
	var ids, certs listFlag
	fs.Var(&ids, "key-id", "key id to revoke, hex (repeatable)")
	fs.Var(&certs, "chain", "certificate chain whose leaf key to revoke (repeatable)")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "dir", "out"); err != nil {
		return err
	}
	var keyIDs [][]byte
	for _, h := range ids {
		id, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil {
			return fmt.Errorf("--key-id %q: %v: %w", h, err, errUsage)
		}
		keyIDs = append(keyIDs, id)
	}
	for _, f := range certs {
		raw, err := readIn(f)
		if err != nil {
			return err
		}
		chain, err := identity.ParseChain(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		keyIDs = append(keyIDs, chain[0].KeyID)
	}
	ca, closer, err := openCA(*dir, *pp)
	if err != nil {
		return err
	}
	defer closer.Close()
	signed, err := ca.Revoke(keyIDs, time.Now())
	if err != nil {
		return err
	}
	r, err := identity.ParseRevocation(signed, []*identity.Certificate{ca.CA.Cert})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revocation list %d: %d keys revoked\n", r.Sequence, len(r.KeyIDs))
	return writeOut(*out, signed)
}
