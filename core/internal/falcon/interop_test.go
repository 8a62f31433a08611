package falcon

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestInteropNoble cross-checks against the independent JavaScript
// implementation in the npm package @noble/post-quantum. It runs only when
// FALCON_NOBLE_DIR names a directory whose node_modules holds that package
// (e.g. after `npm install @noble/post-quantum` there) and node is on PATH.
func TestInteropNoble(t *testing.T) {
	dir := os.Getenv("FALCON_NOBLE_DIR")
	if dir == "" {
		t.Skip("FALCON_NOBLE_DIR not set; to run: mkdir d && (cd d && npm install @noble/post-quantum) && FALCON_NOBLE_DIR=$PWD/d go test -run InteropNoble")
	}
	// Once asked for, the cross-check must run: a missing package or node
	// is a failure, not a skip, so CI cannot pass without it.
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@noble", "post-quantum", "falcon.js")); err != nil {
		t.Fatalf("@noble/post-quantum with falcon.js not found under %s/node_modules: %v", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found on PATH")
	}

	type tcase struct {
		N    int    `json:"n"`
		Seed string `json:"seed"`
		PK   string `json:"pk"`
		SK   string `json:"sk"`
		Msg  string `json:"msg"`
		Sig  string `json:"sig"`
	}
	type result struct {
		VerifyOurs bool   `json:"verifyOurs"`
		VerifyErr  string `json:"verifyErr"`
		TamperedOK bool   `json:"tamperedOk"`
		KeygenPk   string `json:"keygenPk"`
		KeygenSk   string `json:"keygenSk"`
		NobleSig   string `json:"nobleSig"`
	}
	var cases []tcase
	var params []*Params
	var keys [][2][]byte
	for _, p := range []*Params{Falcon512, Falcon1024} {
		for i := 0; i < 3; i++ {
			seed := bytes.Repeat([]byte{byte(i*7 + 1)}, KeySeedSize)
			seed[0] = byte(p.logn)
			pk, sk, err := p.KeyFromSeed(seed)
			if err != nil {
				t.Fatal(err)
			}
			msg := bytes.Repeat([]byte("interop "), i*5+1)
			rnd := bytes.NewReader(bytes.Repeat([]byte{byte(i), 0x5a}, 44))
			sig, err := p.Sign(sk, msg, rnd)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, tcase{1 << p.logn, hex.EncodeToString(seed), hex.EncodeToString(pk),
				hex.EncodeToString(sk), hex.EncodeToString(msg), hex.EncodeToString(sig)})
			params = append(params, p)
			keys = append(keys, [2][]byte{pk, sk})
		}
	}
	in, _ := json.Marshal(map[string]any{"cases": cases})
	cmd := exec.Command(node, filepath.Join("testdata", "noble_interop.mjs"), dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node script failed: %v\n%s", err, stderr.String())
	}
	var res struct{ Results []result }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("bad script output: %v\n%s", err, out)
	}
	if len(res.Results) != len(cases) {
		t.Fatalf("got %d results for %d cases", len(res.Results), len(cases))
	}
	for i, r := range res.Results {
		p, c := params[i], cases[i]
		t.Run(p.Name()+"/"+c.Seed[:8], func(t *testing.T) {
			if !r.VerifyOurs {
				t.Errorf("noble rejects our signature: %s", r.VerifyErr)
			}
			if r.TamperedOK {
				t.Errorf("noble accepts a tampered signature")
			}
			if r.KeygenPk != c.PK || r.KeygenSk != c.SK {
				t.Errorf("noble keygen from the same seed gives a different key pair")
			}
			nsig, err := hex.DecodeString(r.NobleSig)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := hex.DecodeString(c.Msg)
			if err := p.Verify(keys[i][0], msg, nsig); err != nil {
				t.Errorf("we reject noble's signature: %v", err)
			}
			nsig[len(nsig)-1] ^= 1
			if err := p.Verify(keys[i][0], msg, nsig); !errors.Is(err, ErrVerify) {
				t.Errorf("we accept a tampered noble signature")
			}
		})
	}
}
