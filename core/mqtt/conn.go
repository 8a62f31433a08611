package mqtt

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

// readBufferSize is the read buffer of a broker connection: a few dozen
// small frames, and larger reads bypass it (bufio reads them straight
// into the caller's slice).
const readBufferSize = 4096

// bufferedConn is a broker connection whose reads go through a buffer.
// paho reads a packet as one read for the first header byte, one per
// remaining-length byte and one for the body: three or four system calls
// per packet on a bare socket. Through the buffer one read usually
// brings in several packets. paho reads from one goroutine at a time (the
// CONNACK during connect, then its reader), as bufio needs.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// dialBroker opens the connection paho speaks MQTT over, for the schemes
// NewClient accepts, as paho's own dialer would (TCP, or TLS with the
// options' TLSConfig; a SOCKS5 proxy named by ALL_PROXY/NO_PROXY is
// honoured like paho does), and wraps it in a bufferedConn.
func dialBroker(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	var cfg *tls.Config
	switch {
	case uri.Scheme == "tcp" || uri.Scheme == "mqtt":
	case isTLSScheme(uri.Scheme):
		if o.TLSConfig == nil {
			return nil, fmt.Errorf("mqtt: %s:// without a TLSConfig", uri.Scheme)
		}
		cfg = o.TLSConfig
		if cfg.ServerName == "" {
			// As tls.Dial does: verify the certificate against the host
			// dialled.
			cfg = cfg.Clone()
			if host, _, err := net.SplitHostPort(uri.Host); err == nil {
				cfg.ServerName = host
			}
		}
	default:
		return nil, fmt.Errorf("mqtt: unsupported scheme %q", uri.Scheme)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.ConnectTimeout)
	defer cancel()
	conn, err := dialTCP(ctx, &net.Dialer{Timeout: o.ConnectTimeout}, uri.Host)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("mqtt: TLS handshake with %s: %w", uri.Host, err)
		}
		conn = tc
	}
	return newBufferedConn(conn), nil
}

func newBufferedConn(conn net.Conn) *bufferedConn {
	return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, readBufferSize)}
}

// IsTLSBroker reports whether a broker URL asks for TLS to the broker:
// ssl://, tls://, mqtts:// or tcps://.
func IsTLSBroker(url string) bool {
	scheme, _, _ := strings.Cut(url, "://")
	return isTLSScheme(scheme)
}

func isTLSScheme(scheme string) bool {
	switch scheme {
	case "ssl", "tls", "mqtts", "tcps":
		return true
	}
	return false
}

// dialTCP dials host directly or through the proxy the environment names.
func dialTCP(ctx context.Context, d *net.Dialer, host string) (net.Conn, error) {
	pd := proxy.FromEnvironmentUsing(d)
	if cd, ok := pd.(proxy.ContextDialer); ok {
		return cd.DialContext(ctx, "tcp", host)
	}
	return pd.Dial("tcp", host)
}
