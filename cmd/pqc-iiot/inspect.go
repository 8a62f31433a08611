package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

const maxInput = 4 << 20

func readAllLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err == nil && len(b) > maxInput {
		return nil, identity.ErrTooLarge
	}
	return b, err
}

func inspect(e *env, args []string) error {
	fs := newFlags(e, "inspect", "FILE: decode a pqc-iiot object (certificate, chain, join/renewal request, announcement, policy, revocation list, public key) to JSON. With --ca, also verify it against that trust anchor; a failed check exits with status 3.")
	ca := fs.String("ca", "", "trust anchor (ca.cert) to verify against")
	at := fs.String("at", "", "verify as of this time (RFC 3339) instead of now")
	if err := parseN(fs, args, 1); err != nil {
		return err
	}
	data, err := readIn(fs.Arg(0))
	if err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--at: %v: %w", err, errUsage)
		}
	}
	var trust *identity.Trust
	if *ca != "" {
		raw, err := os.ReadFile(*ca)
		if err != nil {
			return err
		}
		if trust, err = identity.NewTrust(raw); err != nil {
			return err
		}
	}
	view, err := describe(data, trust, now)
	if view != nil {
		if perr := printJSON(e.stdout, view); perr != nil {
			return perr
		}
	}
	return err
}

// describe decodes data into a JSON-friendly view. With a trust anchor it
// verifies as well and returns the view even when verification fails, so
// the operator sees what was refused.
func describe(data []byte, trust *identity.Trust, now time.Time) (map[string]any, error) {
	view := map[string]any{"sha256": hex.EncodeToString(sha256Sum(data)), "size": len(data)}
	if k, err := identity.DecodePublicKey(data); err == nil {
		view["kind"], view["public_key"], view["key_id"] = "public key", jsonView(k), hex.EncodeToString(k.ID())
		return view, nil
	}
	if chain, err := identity.ParseChain(data); err == nil {
		view["kind"] = "certificate chain"
		certs := make([]any, len(chain))
		for i, c := range chain {
			certs[i] = jsonView(c.Claims)
		}
		view["certificates"] = certs
		if trust != nil {
			_, err := trust.VerifyDevice(data, now)
			return verified(view, err)
		}
		return view, nil
	}
	kind, err := identity.KindOf(data)
	if err != nil {
		return nil, err
	}
	view["kind"] = string(kind)
	claims, verr := identity.Describe(data, kind, trustAnchors(trust), now)
	if claims == nil {
		return nil, verr
	}
	view["claims"] = jsonView(claims)
	if trust == nil {
		return view, nil
	}
	return verified(view, verr)
}

func trustAnchors(t *identity.Trust) []*identity.Certificate {
	if t == nil {
		return nil
	}
	return t.Anchors()
}

func verified(view map[string]any, err error) (map[string]any, error) {
	view["verified"] = err == nil
	if err != nil {
		view["error"] = err.Error()
	}
	return view, err
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// jsonView turns structs into maps keyed by field name and byte slices
// into hex, which reads better than encoding/json's base64.
func jsonView(v any) any {
	return view(reflect.ValueOf(v))
}

func view(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return view(v.Elem())
	case reflect.Struct:
		out := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous {
				for k, x := range view(v.Field(i)).(map[string]any) {
					out[k] = x
				}
				continue
			}
			out[f.Name] = view(v.Field(i))
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return hex.EncodeToString(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = view(v.Index(i))
		}
		return out
	default:
		return v.Interface()
	}
}

func keygen(e *env, args []string) error {
	fs := newFlags(e, "keygen", "Generate a raw key pair for any registered KEM or signature scheme (liboqs byte formats). The secret key file is written with mode 0600 and is NOT encrypted: prefer keystores for anything long-lived.")
	alg := fs.String("alg", "", "algorithm name, e.g. ML-KEM-768 or ML-DSA-65")
	pubOut := fs.String("pub-out", "", "public key output file")
	secOut := fs.String("sec-out", "", "secret key output file (0600)")
	if err := parse(fs, args, "alg", "pub-out", "sec-out"); err != nil {
		return err
	}
	var pk, sk []byte
	var err error
	if k, kerr := pqc.KEMByName(*alg); kerr == nil {
		pk, sk, err = k.GenerateKey(nil)
	} else if s, serr := pqc.SignatureByName(*alg); serr == nil {
		pk, sk, err = s.GenerateKey(nil)
	} else {
		return fmt.Errorf("%q is neither a KEM nor a signature scheme (KEMs: %v; signatures: %v): %w", *alg, pqc.KEMNames(), pqc.SignatureNames(), errUsage)
	}
	if err != nil {
		return err
	}
	defer clear(sk)
	if err := os.WriteFile(*secOut, sk, 0o600); err != nil {
		return err
	}
	if err := writeOut(*pubOut, pk); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s key pair: public %d bytes, secret %d bytes\n", *alg, len(pk), len(sk))
	return nil
}
