package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt"
)

// brokerFlags are the connection flags shared by the MQTT commands.
type brokerFlags struct {
	broker, tlsCA, username, passwordFile *string
}

func addBrokerFlags(fs *flagSet) brokerFlags {
	return brokerFlags{
		broker:       fs.String("broker", "", "MQTT broker URL: tcp://host:1883 or ssl://host:8883"),
		tlsCA:        fs.String("tls-ca", "", "PEM file of the CA that signed the broker's certificate (ssl://)"),
		username:     fs.String("username", "", "MQTT user name"),
		passwordFile: fs.String("password-file", "", "file holding the MQTT password"),
	}
}

// brokerConn is what the flags resolve to.
type brokerConn struct {
	url, username, password string
	tls                     *tls.Config
}

// conn resolves the flags for a client: an ssl:// URL without --tls-ca
// verifies the broker against the system's roots; --tls-ca with a plain
// URL is refused (the user meant TLS and would not get it).
func (b brokerFlags) conn() (brokerConn, error) {
	isTLS := mqtt.IsTLSBroker(*b.broker)
	if *b.tlsCA != "" && !isTLS {
		return brokerConn{}, fmt.Errorf("--tls-ca with %q: TLS needs an ssl:// broker URL: %w", *b.broker, errUsage)
	}
	tlsConf, password, err := b.resolve()
	if err != nil {
		return brokerConn{}, err
	}
	if isTLS && tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return brokerConn{url: *b.broker, username: *b.username, password: password, tls: tlsConf}, nil
}

// controlPlane makes a control-plane client per the flags, trusting the
// CA certificate in the file anchor (the trust state is returned too: it
// holds what the broker's retained objects installed); o carries the
// command's own options.
func (b brokerFlags) controlPlane(anchor string, o mqtt.ControlPlaneOptions) (*mqtt.ControlPlane, *identity.Trust, error) {
	rawAnchor, err := readIn(anchor)
	if err != nil {
		return nil, nil, err
	}
	if o.Trust, err = identity.NewTrust(rawAnchor); err != nil {
		return nil, nil, err
	}
	conn, err := b.conn()
	if err != nil {
		return nil, nil, err
	}
	o.Broker, o.TLSConfig, o.Username, o.Password = conn.url, conn.tls, conn.username, conn.password
	cp, err := mqtt.NewControlPlane(o)
	return cp, o.Trust, err
}

func (b brokerFlags) resolve() (tlsConf *tls.Config, password string, err error) {
	if *b.tlsCA != "" {
		pem, err := os.ReadFile(*b.tlsCA)
		if err != nil {
			return nil, "", err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("--tls-ca %s: no PEM certificate: %w", *b.tlsCA, errUsage)
		}
		tlsConf = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if *b.passwordFile != "" {
		raw, err := os.ReadFile(*b.passwordFile)
		if err != nil {
			return nil, "", err
		}
		password = string(bytes.TrimRight(raw, "\r\n"))
	}
	return tlsConf, password, nil
}

func publishPolicy(e *env, args []string) error {
	return publishControl(e, args, "publish-policy", "Verify a CA-signed policy against the anchor and publish it, retained, on pqc/v1/policy. A stale policy or one older than the broker's is refused (exit 3).",
		func(cp *mqtt.ControlPlane, ctx context.Context, data []byte) error {
			return cp.PublishPolicy(ctx, data)
		})
}

func publishRevocation(e *env, args []string) error {
	return publishControl(e, args, "publish-revocation", "Verify a CA-signed revocation list against the anchor and publish it, retained, on pqc/v1/revocation. A list older than the broker's is refused (exit 3).",
		func(cp *mqtt.ControlPlane, ctx context.Context, data []byte) error {
			return cp.PublishRevocation(ctx, data)
		})
}

func publishControl(e *env, args []string, name, summary string, publish func(*mqtt.ControlPlane, context.Context, []byte) error) error {
	fs := newFlags(e, name, summary+" Usage: pqc-iiot "+name+" --broker URL --anchor ca.cert FILE")
	bf := addBrokerFlags(fs)
	anchor := fs.String("anchor", "", "CA certificate (ca.cert) the object must verify against")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if err := parseN(fs, args, 1, "broker", "anchor"); err != nil {
		return err
	}
	data, err := readIn(fs.Arg(0))
	if err != nil {
		return err
	}
	cp, _, err := bf.controlPlane(*anchor, mqtt.ControlPlaneOptions{
		// A client id of its own, so two operators never take over each
		// other's connection.
		ClientID: fmt.Sprintf("pqc-iiot-cli-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)})
	if err != nil {
		return err
	}
	defer cp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := cp.Connect(ctx); err != nil {
		return err
	}
	// The control plane adopts the objects retained on the broker as they
	// arrive: give them a moment, so a rollback is refused here rather
	// than by every device.
	time.Sleep(500 * time.Millisecond)
	if err := publish(cp, ctx, data); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "published %s to %s\n", fs.Arg(0), *bf.broker)
	return nil
}

var errDemo = errors.New("demo failed")
