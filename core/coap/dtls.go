package coap

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"

	piondtls "github.com/pion/dtls/v3"
	"github.com/pion/logging"
)

// DTLS configures DTLS 1.2 (pion/dtls through go-coap) under any mode,
// with a pre-shared key or X.509 certificates, as RFC 7252 §9 describes.
type DTLS struct {
	// PSK mode (cipher suite TLS_PSK_WITH_AES_128_CCM_8, RFC 7252's
	// mandatory one, and TLS_PSK_WITH_AES_128_GCM_SHA256). A client sets
	// PSKIdentity and PSK; a server sets PSKLookup, which returns the key
	// of a client identity (an error refuses the client).
	PSKIdentity string
	PSK         []byte
	PSKLookup   func(identity string) ([]byte, error)

	// Certificate mode. Certificate is the own chain and key (a server
	// always needs one; a client when the server asks for it). A client
	// verifies the server against RootCAs (and ServerName); a server with
	// ClientCAs requires and verifies client certificates.
	Certificate *tls.Certificate
	RootCAs     *x509.CertPool
	ClientCAs   *x509.CertPool
	ServerName  string

	// Config, when set, is used as given and the fields above are ignored,
	// except that without a LoggerFactory pion/dtls logs to Config.Errors
	// (on a copy: the caller's Config is not changed).
	Config *piondtls.Config
}

// pion makes the pion/dtls configuration; errs gets what pion logs at
// warning level and above (its default logger writes to standard error).
func (d *DTLS) pion(server bool, errs func(error)) (*piondtls.Config, error) {
	if d.Config != nil {
		c := *d.Config
		if c.LoggerFactory == nil {
			c.LoggerFactory = errorLogs{errs}
		}
		return &c, nil
	}
	c := &piondtls.Config{ExtendedMasterSecret: piondtls.RequireExtendedMasterSecret, LoggerFactory: errorLogs{errs}}
	switch {
	case server && d.PSKLookup != nil, !server && d.PSK != nil:
		c.CipherSuites = []piondtls.CipherSuiteID{piondtls.TLS_PSK_WITH_AES_128_CCM_8, piondtls.TLS_PSK_WITH_AES_128_GCM_SHA256}
		if server {
			lookup := d.PSKLookup
			c.PSK = func(hint []byte) ([]byte, error) { return lookup(string(hint)) }
		} else {
			key := d.PSK
			c.PSK = func([]byte) ([]byte, error) { return key, nil }
			c.PSKIdentityHint = []byte(d.PSKIdentity)
		}
	case d.Certificate != nil || !server && d.RootCAs != nil:
		if d.Certificate != nil {
			c.Certificates = []tls.Certificate{*d.Certificate}
		}
		c.RootCAs, c.ServerName = d.RootCAs, d.ServerName
		if server && d.ClientCAs != nil {
			c.ClientCAs, c.ClientAuth = d.ClientCAs, piondtls.RequireAndVerifyClientCert
		}
	default:
		return nil, fmt.Errorf("%w: DTLS needs a PSK or a certificate", ErrConfig)
	}
	return c, nil
}

// dtlsIdentity is the authenticated DTLS peer of a server connection: the
// client's PSK identity, or the common name of its verified certificate.
func dtlsIdentity(c net.Conn) string {
	dc, ok := c.(*piondtls.Conn)
	if !ok {
		return ""
	}
	st, ok := dc.ConnectionState()
	if !ok {
		return ""
	}
	if len(st.IdentityHint) > 0 {
		return string(st.IdentityHint)
	}
	if len(st.PeerCertificates) > 0 {
		if cert, err := x509.ParseCertificate(st.PeerCertificates[0]); err == nil {
			return cert.Subject.CommonName
		}
	}
	return ""
}

// errorLogs is a pion LoggerFactory that turns warnings and errors into
// calls of Config.Errors and drops the rest.
type errorLogs struct{ errs func(error) }

func (f errorLogs) NewLogger(scope string) logging.LeveledLogger {
	return dtlsLogger{scope: scope, errs: f.errs}
}

// dtlsLog is a message pion/dtls logged, as an error.
type dtlsLog struct{ scope, msg string }

func (e *dtlsLog) Error() string { return "dtls " + e.scope + ": " + e.msg }

type dtlsLogger struct {
	scope string
	errs  func(error)
}

func (l dtlsLogger) Trace(string)          {}
func (l dtlsLogger) Tracef(string, ...any) {}
func (l dtlsLogger) Debug(string)          {}
func (l dtlsLogger) Debugf(string, ...any) {}
func (l dtlsLogger) Info(string)           {}
func (l dtlsLogger) Infof(string, ...any)  {}
func (l dtlsLogger) Warn(msg string)       { l.errs(&dtlsLog{l.scope, msg}) }
func (l dtlsLogger) Warnf(format string, args ...any) {
	l.errs(&dtlsLog{l.scope, fmt.Sprintf(format, args...)})
}
func (l dtlsLogger) Error(msg string) { l.errs(&dtlsLog{l.scope, msg}) }
func (l dtlsLogger) Errorf(format string, args ...any) {
	l.errs(&dtlsLog{l.scope, fmt.Sprintf(format, args...)})
}
