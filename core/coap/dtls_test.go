package coap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// testPKI is a throwaway X.509 CA issuing ECDSA P-256 certificates.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testPKI{cert: cert, key: key, pool: pool}
}

func (p *testPKI) issue(t *testing.T, cn string, server bool) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestDTLS: PSK and certificate DTLS under plain mode (the sender is the
// DTLS identity, and the ACL uses it) and under session mode; wrong keys,
// missing or foreign certificates get no answer.
func TestDTLS(t *testing.T) {
	psks := map[string][]byte{"hmi-7": bytes.Repeat([]byte{7}, 16), "hmi-8": bytes.Repeat([]byte{8}, 16)}
	lookup := func(id string) ([]byte, error) {
		if k, ok := psks[id]; ok {
			return k, nil
		}
		return nil, errors.New("unknown identity")
	}
	ca, other := newTestPKI(t, "plant-ca"), newTestPKI(t, "rogue-ca")
	srvCert := ca.issue(t, "plc-1", true)
	acl := &ACL{Identities: map[string][]Rule{
		"hmi-7": {{Path: "/"}},
		"*":     {{Path: "/whoami", Methods: []codes.Code{codes.GET}}},
	}}
	servers := map[string]*DTLS{
		"psk":  {PSKLookup: lookup},
		"x509": {Certificate: srvCert, ClientCAs: ca.pool},
	}
	cases := []struct {
		name, server string
		client       *DTLS
		path         string
		want         codes.Code
		payload      string
		fails        bool
	}{
		{"psk whoami", "psk", &DTLS{PSKIdentity: "hmi-7", PSK: psks["hmi-7"]}, "/whoami", codes.Content, "hmi-7", false},
		{"psk allowed", "psk", &DTLS{PSKIdentity: "hmi-7", PSK: psks["hmi-7"]}, "/sensors/temp", codes.Content, "20", false},
		{"psk forbidden", "psk", &DTLS{PSKIdentity: "hmi-8", PSK: psks["hmi-8"]}, "/sensors/temp", codes.Forbidden, "", false},
		{"psk wrong key", "psk", &DTLS{PSKIdentity: "hmi-7", PSK: psks["hmi-8"]}, "/whoami", 0, "", true},
		{"psk unknown identity", "psk", &DTLS{PSKIdentity: "hmi-9", PSK: psks["hmi-7"]}, "/whoami", 0, "", true},
		{"x509 whoami", "x509", &DTLS{Certificate: ca.issue(t, "hmi-7", false), RootCAs: ca.pool}, "/whoami", codes.Content, "hmi-7", false},
		{"x509 forbidden", "x509", &DTLS{Certificate: ca.issue(t, "hmi-8", false), RootCAs: ca.pool}, "/sensors/temp", codes.Forbidden, "", false},
		{"x509 no client cert", "x509", &DTLS{RootCAs: ca.pool}, "/whoami", 0, "", true},
		{"x509 foreign client cert", "x509", &DTLS{Certificate: other.issue(t, "hmi-7", false), RootCAs: ca.pool}, "/whoami", 0, "", true},
		{"x509 server not trusted", "x509", &DTLS{Certificate: ca.issue(t, "hmi-7", false), RootCAs: other.pool}, "/whoami", 0, "", true},
	}
	addrs := map[string]string{}
	for name, d := range servers {
		_, addr, _ := startServer(t, Config{Mode: ModePlain, DTLS: d, ACL: acl, AckTimeout: 200 * time.Millisecond, MaxRetransmit: 2})
		addrs[name] = addr
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := Dial(addrs[tc.server], Config{Mode: ModePlain, DTLS: tc.client, Timeout: 5 * time.Second, AckTimeout: 200 * time.Millisecond, MaxRetransmit: 2})
			// Dial runs the handshake, bounded by Timeout: a refused one
			// fails here, never later (a lazy handshake started by a
			// read loop without a deadline hung under qemu).
			if tc.fails {
				if err == nil {
					cl.Close()
					t.Fatal("Dial succeeded; the DTLS handshake should have been refused")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			resp, err := cl.Get(shortCtx(t), tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Code != tc.want || string(resp.Payload) != tc.payload {
				t.Fatalf("got %v %q, want %v %q", resp.Code, resp.Payload, tc.want, tc.payload)
			}
		})
	}
}

// TestDTLSUnderSession: session mode over DTLS; the sender is the session
// peer, not the DTLS identity.
func TestDTLSUnderSession(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	key := bytes.Repeat([]byte{9}, 16)
	for _, mode := range []Mode{ModeSigned, ModeSession, ModeOSCORE} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := srvDev.cfg(mode)
			cfg.DTLS = &DTLS{PSKLookup: func(string) ([]byte, error) { return key, nil }}
			_, addr, _ := startServer(t, cfg)
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			ccfg.DTLS = &DTLS{PSKIdentity: "gw-1", PSK: key}
			cl := dial(t, addr, ccfg)
			resp, err := cl.Get(ctxT(t), "/whoami")
			if err != nil || string(resp.Payload) != "scada-1" || resp.Sender != "plc-1" {
				t.Fatalf("%v %v", resp, err)
			}
		})
	}
}
