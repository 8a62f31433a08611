package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

func deviceInit(e *env, args []string) error {
	fs := newFlags(e, "device init", "Create a device keystore holding a new factory key; write the factory public key for the CA's allow-list.")
	path := fs.String("store", "", "device keystore file (created)")
	id := fs.String("id", "", "device id, e.g. sensor-17")
	factoryAlg := fs.String("factory-alg", identity.DefaultSignature, "signature algorithm of the factory key")
	sigAlg := fs.String("sig-alg", identity.DefaultSignature, "signature algorithm of operational keys")
	var kems listFlag
	fs.Var(&kems, "kem", fmt.Sprintf("KEM of operational keys (repeatable; default %v)", identity.DefaultKEMs))
	out := fs.String("factory-key-out", "", "where to write the factory public key")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "store", "id", "factory-key-out"); err != nil {
		return err
	}
	if len(kems) == 0 {
		kems = identity.DefaultKEMs
	}
	st, err := createStore(*path, *pp)
	if err != nil {
		return err
	}
	defer st.Close()
	dev, err := identity.InitDevice(st, *id, *factoryAlg, *sigAlg, kems)
	if err != nil {
		return err
	}
	enc, err := dev.FactoryKey().Encode()
	if err != nil {
		return err
	}
	if err := writeOut(*out, enc); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created device %s, factory key %s %x\n", *id, *factoryAlg, dev.FactoryKey().ID())
	return nil
}

func openDevice(path, pp string) (*identity.Device, io.Closer, error) {
	st, err := openStore(path, pp)
	if err != nil {
		return nil, nil, err
	}
	dev, err := identity.OpenDevice(st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return dev, st, nil
}

func deviceJoin(e *env, args []string) error {
	fs := newFlags(e, "device join", "Generate operational keys (kept pending in the keystore) and write a join request signed by the factory key.")
	path := fs.String("store", "", "device keystore")
	out := fs.String("out", "", "join request output file")
	nonce := fs.String("nonce", "", "CA challenge, hex (optional)")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "store", "out"); err != nil {
		return err
	}
	n, err := hex.DecodeString(*nonce)
	if err != nil {
		return fmt.Errorf("--nonce: %v: %w", err, errUsage)
	}
	dev, closer, err := openDevice(*path, *pp)
	if err != nil {
		return err
	}
	defer closer.Close()
	req, err := dev.JoinRequest(n, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "join request for %s written to %s\n", dev.ID(), *out)
	return writeOut(*out, req)
}

func deviceRotate(e *env, args []string) error {
	fs := newFlags(e, "device rotate", "Generate the next epoch's keys (kept pending) and write a renewal request signed by the current operational key.")
	path := fs.String("store", "", "device keystore")
	out := fs.String("out", "", "renewal request output file")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "store", "out"); err != nil {
		return err
	}
	dev, closer, err := openDevice(*path, *pp)
	if err != nil {
		return err
	}
	defer closer.Close()
	req, err := dev.RenewalRequest(time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "renewal request for %s written to %s\n", dev.ID(), *out)
	return writeOut(*out, req)
}

func deviceInstall(e *env, args []string) error {
	fs := newFlags(e, "device install", "Install the certificate chain issued for the pending keys. The first install also records the trust anchor; later ones must chain to the stored anchor.")
	path := fs.String("store", "", "device keystore")
	chainFile := fs.String("chain", "", "certificate chain from 'ca enroll'")
	anchor := fs.String("anchor", "", "CA certificate (ca.cert); needed on the first install")
	policy := fs.String("policy", "", "fleet policy to install as well (optional)")
	overlap := fs.Duration("overlap", 24*time.Hour, "how long the previous epoch's keys stay usable")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "store", "chain"); err != nil {
		return err
	}
	chain, err := readIn(*chainFile)
	if err != nil {
		return err
	}
	st, err := openStore(*path, *pp)
	if err != nil {
		return err
	}
	defer st.Close()
	dev, err := identity.OpenDevice(st)
	if err != nil {
		return err
	}
	trust, err := deviceTrust(st, *anchor)
	if err != nil {
		return err
	}
	now := time.Now()
	if *policy != "" {
		raw, err := readIn(*policy)
		if err != nil {
			return err
		}
		if _, err := trust.ApplyPolicy(raw, now); err != nil {
			return err
		}
	}
	leaf, err := dev.Install(chain, trust, *overlap, now)
	if err != nil {
		return err
	}
	if err := identity.SaveTrust(st, trust); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "installed %s epoch %d, key id %x\n", leaf.Subject, leaf.Epoch, leaf.KeyID)
	return nil
}

// deviceTrust loads the stored trust state, or starts it from an anchor
// file. A different anchor than the stored one is refused: re-rooting a
// device is a factory reset, not an install.
func deviceTrust(st *store.Store, anchorFile string) (*identity.Trust, error) {
	trust, err := identity.LoadTrust(st)
	switch {
	case err == nil && anchorFile != "":
		raw, err := readIn(anchorFile)
		if err != nil {
			return nil, err
		}
		for _, a := range trust.Anchors() {
			if string(a.Raw) == string(raw) {
				return trust, nil
			}
		}
		return nil, fmt.Errorf("%s is not the stored trust anchor: %w", anchorFile, identity.ErrUnknownIssuer)
	case err == nil:
		return trust, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	case anchorFile == "":
		return nil, fmt.Errorf("no trust anchor stored yet: give --anchor: %w", errUsage)
	}
	raw, err := readIn(anchorFile)
	if err != nil {
		return nil, err
	}
	return identity.NewTrust(raw)
}

func deviceShow(e *env, args []string) error {
	fs := newFlags(e, "device show", "Print the device id, factory key and current certificate as JSON (no secrets).")
	path := fs.String("store", "", "device keystore")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "store"); err != nil {
		return err
	}
	dev, closer, err := openDevice(*path, *pp)
	if err != nil {
		return err
	}
	defer closer.Close()
	out := map[string]any{"device_id": dev.ID(), "factory_key": jsonView(dev.FactoryKey())}
	if cert, _, err := dev.Certificate(); err == nil {
		out["certificate"] = jsonView(cert.Claims)
	} else if !errors.Is(err, identity.ErrNoIdentity) {
		return err
	}
	return printJSON(e.stdout, out)
}

func devicePrune(e *env, args []string) error {
	fs := newFlags(e, "device prune", "Destroy the previous epoch's secret keys if the overlap window is over.")
	path := fs.String("store", "", "device keystore")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "store"); err != nil {
		return err
	}
	dev, closer, err := openDevice(*path, *pp)
	if err != nil {
		return err
	}
	defer closer.Close()
	pruned, err := dev.Prune(time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "previous keys destroyed: %v\n", pruned)
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
