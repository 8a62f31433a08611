package mqtt

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// countingConn counts the reads that reach the connection underneath.
type countingConn struct {
	net.Conn
	reads atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

// paho reads a packet in three or more reads (header byte, length bytes,
// body). Through the buffer, a burst of packets that arrived together is
// fetched in one read of the socket, and every packet comes out intact,
// whether small or larger than the buffer.
func TestBufferedConnFetchesABurstInOneRead(t *testing.T) {
	var burst bytes.Buffer
	payloads := [][]byte{make([]byte, 64), make([]byte, 200), make([]byte, 64), make([]byte, 3*readBufferSize)}
	for i, p := range payloads {
		for j := range p {
			p[j] = byte(i + j)
		}
		pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		pub.TopicName, pub.Qos, pub.MessageID, pub.Payload = "plant/line-1/temp", 1, uint16(i+1), p
		if err := pub.Write(&burst); err != nil {
			t.Fatal(err)
		}
	}
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		_, _ = server.Write(burst.Bytes())
	}()
	raw := &countingConn{Conn: client}
	bc := newBufferedConn(raw)
	if err := bc.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for i, want := range payloads {
		cp, err := packets.ReadPacket(bc)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		pub, ok := cp.(*packets.PublishPacket)
		if !ok || pub.MessageID != uint16(i+1) || !bytes.Equal(pub.Payload, want) {
			t.Fatalf("packet %d came out wrong: %v", i, cp)
		}
	}
	// net.Pipe delivers a write in pieces no larger than each read, so the
	// bound is loose; a bare connection needs 3-4 reads per packet (16).
	if n := raw.reads.Load(); n > 8 {
		t.Fatalf("%d reads of the connection for %d packets", n, len(payloads))
	}
}

func TestDialBrokerRefusals(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	plain := *paho.NewClientOptions().SetConnectTimeout(2 * time.Second)
	withTLS := *paho.NewClientOptions().SetConnectTimeout(2 * time.Second).SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})
	for _, tc := range []struct {
		url  string
		opts paho.ClientOptions
		want string
	}{
		{"tcp://" + addr, plain, "refused"},
		{"ssl://" + addr, withTLS, "refused"},
		{"ssl://" + addr, plain, "without a TLSConfig"},
		{"ws://" + addr, plain, "unsupported scheme"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := dialBroker(u, tc.opts)
		if err == nil {
			conn.Close()
			t.Fatalf("%s: connected", tc.url)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
}
