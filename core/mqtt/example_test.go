package mqtt_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// A device publishing protected readings and reading commands. The codec
// is the session engine's; dev and trust come from the keystore
// (identity.OpenDevice, identity.LoadTrust).
func ExampleClient() {
	var (
		dev   *identity.Device
		trust *identity.Trust
		codec mqtt.Codec
	)
	c, err := mqtt.NewClient(mqtt.Options{Broker: "tcp://127.0.0.1:1883", Device: dev, Trust: trust, Codec: codec})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	c.Subscribe("plant/line3/cmd", func(m mqtt.Message) {
		fmt.Printf("%s says %q\n", m.Sender, m.Payload) // Sender is authenticated
	})
	if err := c.Publish(ctx, "plant/line3/temp", []byte("21.5")); err != nil {
		log.Print(err) // ErrQueueFull, a codec error, or ctx expired while offline
	}
	fmt.Printf("%+v\n", c.Stats())
}

// The operator's side: publish a CA-signed policy retained and answer
// devices' sync requests.
func ExampleControlPlane() {
	var trust *identity.Trust // the fleet's anchors
	var policy []byte         // identity.SignPolicy output, e.g. read from a file
	cp, err := mqtt.NewControlPlane(mqtt.ControlPlaneOptions{Broker: "tcp://127.0.0.1:1883", Trust: trust})
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	ctx := context.Background()
	if err := cp.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	if err := cp.PublishPolicy(ctx, policy); err != nil {
		log.Fatal(err) // unsigned, stale or rolled back: nothing was published
	}
}

// The production codec: sealed frames to every authorised subscriber of a
// topic until pairwise sessions exist, then sessions. dev, trust and st are
// the device's identity, trust state and keystore (identity.OpenDevice,
// identity.LoadTrust over the same store).
func ExampleNewSessionCodec() {
	var (
		dev   *identity.Device
		trust *identity.Trust
		st    *store.Store
	)
	if dev == nil {
		return // provisioned with the CLI in a real program
	}
	codec, err := mqtt.NewSessionCodec(mqtt.SessionCodecOptions{Device: dev, Trust: trust, Store: st, Mode: mqtt.ModeAuto})
	if err != nil {
		log.Fatal(err)
	}
	defer codec.Close()
	c, err := mqtt.NewClient(mqtt.Options{Broker: "tcp://127.0.0.1:1883", Codec: codec, Device: dev, Trust: trust})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	c.Subscribe("plant/#", func(m mqtt.Message) { fmt.Printf("%s from %s: %s\n", m.Topic, m.Sender, m.Payload) })
	if err := c.Publish(ctx, "plant/line3/sensor-1/temp", []byte("21.5")); err != nil {
		log.Print(err) // e.g. mqtt.ErrNoRecipients: no authorised reader
	}
}
