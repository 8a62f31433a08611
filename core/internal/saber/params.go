package saber

// Constants shared by all three parameter sets.
const (
	n       = 256 // polynomial degree
	logQ    = 13  // q = 2^13
	logP    = 10  // p = 2^10
	seedLen = 32  // seed_A, noise seeds, z, m, hashes

	polyQBytes = logQ * n / 8 // one polynomial packed at 13 bits
	polyPBytes = logP * n / 8 // one polynomial packed at 10 bits

	// SharedSecretSize is the size of every shared secret.
	SharedSecretSize = 32
	// KeySeedSize is seed_A || noise seed || z: the three 32-byte draws of
	// key generation, in the order the reference implementation makes them.
	KeySeedSize = 3 * seedLen
	// EncapsSeedSize is the 32-byte random value r drawn by encapsulation.
	EncapsSeedSize = seedLen

	// maxL is the largest module rank (FireSaber), sizing stack buffers.
	maxL = 4
	// maxCiphertextSize is FireSaber's ciphertext size (eps_T = 6).
	maxCiphertextSize = maxL*polyPBytes + 6*n/8
)

// Params describes one SABER parameter set.
type Params struct {
	name string
	l    int  // module rank
	mu   int  // binomial parameter: secrets lie in [-mu/2, mu/2]
	logT uint // eps_T: bits per coefficient of the message-carrying polynomial
}

var (
	// LightSaber is the NIST level-1 parameter set.
	LightSaber = &Params{name: "LightSaber", l: 2, mu: 10, logT: 3}
	// Saber is the NIST level-3 parameter set.
	Saber = &Params{name: "Saber", l: 3, mu: 8, logT: 4}
	// FireSaber is the NIST level-5 parameter set.
	FireSaber = &Params{name: "FireSaber", l: 4, mu: 6, logT: 6}
)

// Name returns "LightSaber", "Saber" or "FireSaber".
func (p *Params) Name() string { return p.name }

// PublicKeySize is l 10-bit polynomials followed by seed_A.
func (p *Params) PublicKeySize() int { return p.l*polyPBytes + seedLen }

// SecretKeySize is the 13-bit packed secret, the public key, its hash and z.
func (p *Params) SecretKeySize() int { return p.cpaSecretKeySize() + p.PublicKeySize() + 2*seedLen }

// CiphertextSize is l 10-bit polynomials followed by one eps_T-bit polynomial.
func (p *Params) CiphertextSize() int { return p.l*polyPBytes + p.cmBytes() }

// SharedSecretSize is 32 for every parameter set.
func (p *Params) SharedSecretSize() int { return SharedSecretSize }

func (p *Params) cpaSecretKeySize() int { return p.l * polyQBytes }
func (p *Params) cmBytes() int          { return int(p.logT) * n / 8 }
func (p *Params) coinBytes() int        { return p.mu * n / 8 }
