package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

func caStorePath(dir string) string { return filepath.Join(dir, "ca.store") }
func caCertPath(dir string) string  { return filepath.Join(dir, "ca.cert") }

func caInit(e *env, args []string) error {
	fs := newFlags(e, "ca init", "Create a root CA in DIR: ca.store (encrypted, holds the CA key) and ca.cert (the trust anchor every device and peer needs).")
	dir := fs.String("dir", "", "CA directory (created)")
	name := fs.String("name", "", "CA name, e.g. plant-root")
	alg := fs.String("alg", identity.DefaultSignature, "signature algorithm of the CA key")
	validity := fs.Duration("validity", 10*365*24*time.Hour, "validity of the CA certificate")
	pathLen := fs.Uint("path-len", 1, "how many intermediate CAs may sit below this one")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "dir", "name"); err != nil {
		return err
	}
	st, err := createStore(caStorePath(*dir), *pp)
	if err != nil {
		return err
	}
	defer st.Close()
	ca, err := identity.InitCA(st, *name, *alg, time.Now(), *validity, *pathLen)
	if err != nil {
		return err
	}
	defer ca.Close()
	if err := writeOut(caCertPath(*dir), ca.CA.Cert.Raw); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created CA %s (%s, key id %x) in %s\n", *name, *alg, ca.CA.Cert.KeyID, *dir)
	return nil
}

func openCA(dir, pp string) (*identity.CAStore, io.Closer, error) {
	st, err := openStore(caStorePath(dir), pp)
	if err != nil {
		return nil, nil, err
	}
	ca, err := identity.OpenCA(st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return ca, closerFunc(func() error { ca.Close(); return st.Close() }), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func caAllow(e *env, args []string) error {
	fs := newFlags(e, "ca allow", "Allow a device to join: bind its factory public key (written by 'device init') to its device id.")
	dir := fs.String("dir", "", "CA directory")
	device := fs.String("device", "", "device id")
	factory := fs.String("factory-key", "", "the device's factory public key file")
	var roles, pubs, subs listFlag
	fs.Var(&roles, "role", "role to grant (repeatable)")
	fs.Var(&pubs, "publish", "MQTT topic filter (or CoAP path prefix) the device may publish on (repeatable)")
	fs.Var(&subs, "subscribe", "MQTT topic filter (or CoAP path prefix) the device may read (repeatable)")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "dir", "device", "factory-key"); err != nil {
		return err
	}
	raw, err := readIn(*factory)
	if err != nil {
		return err
	}
	key, err := identity.DecodePublicKey(raw)
	if err != nil {
		return fmt.Errorf("factory key %s: %w", *factory, err)
	}
	ca, closer, err := openCA(*dir, *pp)
	if err != nil {
		return err
	}
	defer closer.Close()
	topics := topicPermissions(pubs, subs)
	if err := ca.Allow(identity.AllowedDevice{DeviceID: *device, FactoryKey: key, Roles: roles, Topics: topics}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "allowed %s (factory key %s %x)\n", *device, key.Alg, key.ID())
	for _, t := range topics {
		fmt.Fprintf(e.stdout, "  topic %s: publish %v, subscribe %v\n", t.Filter, t.Publish, t.Subscribe)
	}
	return nil
}

func caEnroll(e *env, args []string) error {
	fs := newFlags(e, "ca enroll", "Process a join request ('device join') or a renewal request ('device rotate'): verify it and issue the device's certificate chain.")
	dir := fs.String("dir", "", "CA directory")
	req := fs.String("request", "", "request file ('-' for stdin)")
	out := fs.String("out", "", "certificate chain output file")
	validity := fs.Duration("validity", 365*24*time.Hour, "validity of the device certificate")
	window := fs.Duration("window", 24*time.Hour, "accept requests made at most this long ago")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "dir", "request", "out"); err != nil {
		return err
	}
	data, err := readIn(*req)
	if err != nil {
		return err
	}
	ca, closer, err := openCA(*dir, *pp)
	if err != nil {
		return err
	}
	defer closer.Close()
	chain, err := ca.Enroll(data, *validity, *window, time.Now())
	if err != nil {
		return err
	}
	parsed, err := identity.ParseChain(chain)
	if err != nil {
		return err
	}
	if err := writeOut(*out, chain); err != nil {
		return err
	}
	leaf := parsed[0]
	fmt.Fprintf(e.stdout, "issued %s epoch %d, key id %x, valid until %s\n", leaf.Subject, leaf.Epoch, leaf.KeyID, time.Unix(leaf.Expiry, 0).UTC().Format(time.RFC3339))
	return nil
}

// topicPermissions merges --publish and --subscribe into one entry per
// filter, in the order first given, so a certificate lists each filter once.
func topicPermissions(pubs, subs []string) []identity.TopicPermission {
	var out []identity.TopicPermission
	idx := map[string]int{}
	add := func(filter string, pub bool) {
		i, ok := idx[filter]
		if !ok {
			i = len(out)
			idx[filter] = i
			out = append(out, identity.TopicPermission{Filter: filter})
		}
		if pub {
			out[i].Publish = true
		} else {
			out[i].Subscribe = true
		}
	}
	for _, f := range pubs {
		add(f, true)
	}
	for _, f := range subs {
		add(f, false)
	}
	return out
}
