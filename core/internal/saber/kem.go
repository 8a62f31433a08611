package saber

import (
	"crypto/rand"
	"crypto/sha3"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// ErrInvalidLength is returned (wrapped with details) when a key, ciphertext
// or seed has the wrong size for the parameter set.
var ErrInvalidLength = errors.New("saber: invalid length")

func checkLen(p *Params, what string, got, want int) error {
	if got != want {
		return fmt.Errorf("%w: %s %s is %d bytes, want %d", ErrInvalidLength, p.name, what, got, want)
	}
	return nil
}

func readerOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// GenerateKey draws seed_A, the noise seed and z with three separate 32-byte
// reads from rand (crypto/rand when rand is nil), in the reference's order,
// and derives the key pair from them.
func (p *Params) GenerateKey(rand io.Reader) (pk, sk []byte, err error) {
	rand = readerOrDefault(rand)
	var seed [KeySeedSize]byte
	defer clear(seed[:])
	for i := 0; i < 3; i++ {
		if _, err := io.ReadFull(rand, seed[i*seedLen:(i+1)*seedLen]); err != nil {
			return nil, nil, fmt.Errorf("saber: reading randomness: %w", err)
		}
	}
	return p.KeyFromSeed(seed[:])
}

// KeyFromSeed derives a key pair deterministically from seed_A || noise
// seed || z (KeySeedSize bytes). seed_A is hashed with SHAKE-128 before use,
// as the reference does, so the pk never carries raw generator output.
func (p *Params) KeyFromSeed(seed []byte) (pk, sk []byte, err error) {
	if err := checkLen(p, "key seed", len(seed), KeySeedSize); err != nil {
		return nil, nil, err
	}
	seedA := sha3.SumSHAKE128(seed[:seedLen], seedLen)
	noise := seed[seedLen : 2*seedLen]
	z := seed[2*seedLen:]

	pk = make([]byte, p.PublicKeySize())
	sk = make([]byte, p.SecretKeySize())
	skCPA := p.cpaSecretKeySize()
	p.cpaKeyGen(pk, sk[:skCPA], seedA, noise)

	// sk = s || pk || SHA3-256(pk) || z
	off := copy(sk[skCPA:], pk) + skCPA
	hpk := sha3.Sum256(pk)
	off += copy(sk[off:], hpk[:])
	copy(sk[off:], z)
	return pk, sk, nil
}

// Encapsulate draws r with one 32-byte read from rand (crypto/rand when nil)
// and encapsulates to pk.
func (p *Params) Encapsulate(pk []byte, rand io.Reader) (ct, ss []byte, err error) {
	if err := checkLen(p, "public key", len(pk), p.PublicKeySize()); err != nil {
		return nil, nil, err
	}
	var r [EncapsSeedSize]byte
	defer clear(r[:])
	if _, err := io.ReadFull(readerOrDefault(rand), r[:]); err != nil {
		return nil, nil, fmt.Errorf("saber: reading randomness: %w", err)
	}
	return p.EncapsulateDeterministic(pk, r[:])
}

// EncapsulateDeterministic encapsulates to pk using seed as the random value
// r. The message is m = SHA3-256(r), so r itself never enters the ciphertext.
func (p *Params) EncapsulateDeterministic(pk, seed []byte) (ct, ss []byte, err error) {
	if err := checkLen(p, "public key", len(pk), p.PublicKeySize()); err != nil {
		return nil, nil, err
	}
	if err := checkLen(p, "encapsulation seed", len(seed), EncapsSeedSize); err != nil {
		return nil, nil, err
	}
	// buf = m || H(pk); (K^, coins) = G(buf)
	var buf [2 * seedLen]byte
	m := sha3.Sum256(seed)
	hpk := sha3.Sum256(pk)
	copy(buf[:seedLen], m[:])
	copy(buf[seedLen:], hpk[:])
	kr := sha3.Sum512(buf[:])

	ct = make([]byte, p.CiphertextSize())
	p.cpaEncrypt(ct, m[:], kr[seedLen:], pk)

	ss = p.finalKey(kr[:seedLen], ct)
	clear(m[:])
	clear(buf[:])
	clear(kr[:])
	return ct, ss, nil
}

// Decapsulate recovers the shared secret from ct with sk. A ciphertext that
// fails the re-encryption check yields SHA3-256(z || SHA3-256(ct)) instead
// (implicit rejection), selected without branching; an error is returned only
// for wrong input lengths.
func (p *Params) Decapsulate(sk, ct []byte) (ss []byte, err error) {
	if err := checkLen(p, "secret key", len(sk), p.SecretKeySize()); err != nil {
		return nil, err
	}
	if err := checkLen(p, "ciphertext", len(ct), p.CiphertextSize()); err != nil {
		return nil, err
	}
	skCPA := sk[:p.cpaSecretKeySize()]
	pk := sk[len(skCPA) : len(skCPA)+p.PublicKeySize()]
	hpk := sk[len(sk)-2*seedLen : len(sk)-seedLen]
	z := sk[len(sk)-seedLen:]

	var buf [2 * seedLen]byte
	p.cpaDecrypt(buf[:seedLen], skCPA, ct)
	copy(buf[seedLen:], hpk)
	kr := sha3.Sum512(buf[:])

	var cmpBuf [maxCiphertextSize]byte
	cmp := cmpBuf[:len(ct)]
	p.cpaEncrypt(cmp, buf[:seedLen], kr[seedLen:], pk)
	equal := subtle.ConstantTimeCompare(ct, cmp)

	// On mismatch, replace K^ by z.
	subtle.ConstantTimeCopy(1-equal, kr[:seedLen], z)
	ss = p.finalKey(kr[:seedLen], ct)

	clear(buf[:])
	clear(kr[:])
	clear(cmp)
	return ss, nil
}

// finalKey is SHA3-256(k || SHA3-256(ct)).
func (p *Params) finalKey(k, ct []byte) []byte {
	var buf [2 * seedLen]byte
	copy(buf[:seedLen], k)
	hc := sha3.Sum256(ct)
	copy(buf[seedLen:], hc[:])
	ss := sha3.Sum256(buf[:])
	clear(buf[:])
	return ss[:]
}
