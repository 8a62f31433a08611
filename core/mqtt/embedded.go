package mqtt

import (
	"fmt"
	"io"
	"log/slog"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// EmbeddedBroker is an in-process MQTT broker for demos and tests
// (mochi-mqtt). It allows every client: bind it to loopback. It keeps
// sessions in memory only, so it is no stand-in for a production broker's
// persistence.
type EmbeddedBroker struct {
	srv  *mochi.Server
	addr string
}

// StartEmbeddedBroker listens on addr ("127.0.0.1:0" picks a free port).
func StartEmbeddedBroker(addr string) (*EmbeddedBroker, error) {
	srv := mochi.New(&mochi.Options{
		InlineClient: false,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, err
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := srv.AddListener(l); err != nil {
		return nil, fmt.Errorf("embedded broker on %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, err
	}
	return &EmbeddedBroker{srv: srv, addr: l.Address()}, nil
}

// Addr is the address it listens on (with the port chosen).
func (b *EmbeddedBroker) Addr() string { return b.addr }

// URL is the broker URL for Options.Broker.
func (b *EmbeddedBroker) URL() string { return "tcp://" + b.addr }

// Close stops the broker and disconnects every client.
func (b *EmbeddedBroker) Close() error { return b.srv.Close() }
