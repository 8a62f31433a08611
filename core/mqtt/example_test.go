package mqtt_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt"
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
