package main

import "C"

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// Certificate options given as PEM file paths (CoAP's DTLS, MQTT's TLS):
// read the same way so every transport refuses the same mistakes with the
// same statuses. A missing or unreadable file keeps its I/O error; a file
// that reads but holds nothing usable is the caller's mistake
// (PQC_ERR_INVALID_ARGUMENT).

// pathOptions reads optional path-like C strings; NULL gives "".
func pathOptions(what string, ps ...*C.char) ([]string, error) {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p == nil {
			continue
		}
		var err error
		if out[i], err = boundedString(p, 4096, what); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadKeyPair loads a PEM certificate (chain) and its key, given by the
// options named certOpt and keyOpt: both or neither (then ok is false).
func loadKeyPair(certFile, keyFile, certOpt, keyOpt string) (c tls.Certificate, ok bool, err error) {
	if (certFile == "") != (keyFile == "") {
		return c, false, argError(certOpt + " and " + keyOpt + " go together")
	}
	if certFile == "" {
		return c, false, nil
	}
	c, err = tls.LoadX509KeyPair(certFile, keyFile)
	var pathErr *fs.PathError
	if err != nil && !errors.As(err, &pathErr) {
		err = fmt.Errorf("%w: %w", err, pqc.ErrInvalidArgument)
	}
	if err != nil {
		return c, false, fmt.Errorf("%s %s: %w", certOpt, certFile, err)
	}
	return c, true, nil
}

// loadCAPool reads the PEM CA bundle given by the option caOpt.
func loadCAPool(caFile, caOpt string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", caOpt, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, argError(caOpt + " " + caFile + " holds no PEM certificate")
	}
	return pool, nil
}
