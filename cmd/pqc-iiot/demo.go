package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

const (
	demoTopic     = "plant/line3/sensor-1/temp"
	demoReroute   = "plant/line3/sensor-1/setpoint"
	demoSensor    = "sensor-1"
	demoSCADA     = "scada-1"
	demoPeriod    = 200 * time.Millisecond
	demoHandshake = 15 * time.Second
)

// demoDevice is one provisioned device of the demo, running the real
// codec over its keystore.
type demoDevice struct {
	id     string
	st     *store.Store
	trust  *identity.Trust
	codec  *mqtt.SessionCodec
	client *mqtt.Client
}

func openDemoDevice(e *env, dir, id, pp string, conn brokerConn, onErr func(string, error)) (*demoDevice, error) {
	st, err := openStore(filepath.Join(dir, id+".store"), pp)
	if err != nil {
		return nil, err
	}
	d := &demoDevice{id: id, st: st}
	dev, err := identity.OpenDevice(st)
	if err != nil {
		st.Close()
		return nil, err
	}
	if d.trust, err = identity.LoadTrust(st); err != nil {
		st.Close()
		return nil, fmt.Errorf("%s: no trust state (run 'device install' with --anchor and --policy): %w", id, err)
	}
	if err := d.trust.CheckHighRisk(time.Now()); err != nil {
		st.Close()
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	if d.codec, err = mqtt.NewSessionCodec(mqtt.SessionCodecOptions{Device: dev, Trust: d.trust, Store: st,
		Mode: mqtt.ModeSessions, HandshakeWait: demoHandshake}); err != nil {
		st.Close()
		return nil, err
	}
	if d.client, err = mqtt.NewClient(mqtt.Options{Broker: conn.url, TLSConfig: conn.tls, Username: conn.username, Password: conn.password,
		Codec: d.codec, Device: dev, Trust: d.trust,
		ConnectTimeout: 5 * time.Second, MaxReconnectInterval: 2 * time.Second, CleanSession: true,
		OnError: onErr}); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *demoDevice) close() {
	if d.client != nil {
		d.client.Close()
	}
	d.codec.Close()
	d.st.Close()
}

// demoLog serialises the output of the clients' goroutines.
type demoLog struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (l *demoLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%5.2fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

func demo(e *env, args []string) error {
	fs := newFlags(e, "demo", "Run the showcase: sensor-1 publishes telemetry on "+demoTopic+" every 200 ms, scada-1 reads plant/#, both over a post-quantum session; an attacker on the broker replays, tampers with and re-routes captured frames, and every rejection is shown. Needs the stores and anchor that scripts/demo.sh provisions with the CLI.")
	dir := fs.String("dir", "", "directory with sensor-1.store and scada-1.store (installed, with a policy)")
	bf := addBrokerFlags(fs) // without --broker: an embedded broker on 127.0.0.1
	secs := fs.Int("seconds", 5, "how long to exchange telemetry, in seconds")
	pp := passphraseFlag(fs)
	if err := parse(fs, args, "dir"); err != nil {
		return err
	}
	seconds := new(time.Duration)
	*seconds = time.Duration(*secs) * time.Second
	log := &demoLog{w: e.stdout, start: time.Now()}
	conn, err := bf.conn()
	if err != nil {
		return err
	}
	url := *bf.broker
	if url == "" {
		b, err := mqtt.StartEmbeddedBroker("127.0.0.1:0")
		if err != nil {
			return err
		}
		defer b.Close()
		url = b.URL()
		log.printf("embedded MQTT broker (mochi-mqtt) listening on %s", url)
	} else {
		log.printf("using external broker %s", url)
	}

	var rejMu sync.Mutex
	var rejections []string
	onErr := func(topic string, err error) {
		log.printf("scada-1 REJECTED frame on %s: %v", topic, err)
		rejMu.Lock()
		rejections = append(rejections, err.Error())
		rejMu.Unlock()
	}
	conn.url = url
	scada, err := openDemoDevice(e, *dir, demoSCADA, *pp, conn, onErr)
	if err != nil {
		return err
	}
	defer scada.close()
	sensor, err := openDemoDevice(e, *dir, demoSensor, *pp, conn, func(topic string, err error) {
		log.printf("sensor-1 dropped frame on %s: %v", topic, err)
	})
	if err != nil {
		return err
	}
	defer sensor.close()

	var readings int
	var rmu sync.Mutex
	if err := scada.client.Subscribe("plant/#", func(m mqtt.Message) {
		rmu.Lock()
		readings++
		rmu.Unlock()
		log.printf("scada-1 <- %s from %s (verified): %s", m.Topic, m.Sender, m.Payload)
	}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *seconds+15*time.Second)
	defer cancel()
	for _, d := range []*demoDevice{scada, sensor} {
		if err := d.client.Connect(ctx); err != nil {
			return err
		}
		log.printf("%s connected, announced its certified keys on %s", d.id, mqtt.KeysTopic(d.id))
	}
	if err := waitFor(ctx, func() bool {
		_, a := sensor.trust.Peer(demoSCADA)
		_, b := scada.trust.Peer(demoSensor)
		return a && b
	}); err != nil {
		return fmt.Errorf("devices did not learn each other's keys: %w (sensor-1 %+v; scada-1 %+v)", err, sensor.client.Stats(), scada.client.Stats())
	}
	log.printf("both devices verified each other's certificate chain through the retained announcements")

	// The attacker is any client of the broker: it sees every frame.
	ao := paho.NewClientOptions().AddBroker(url).SetClientID("attacker").SetCleanSession(true).
		SetUsername(conn.username).SetPassword(conn.password)
	if conn.tls != nil {
		ao.SetTLSConfig(conn.tls)
	}
	attacker := paho.NewClient(ao)
	if tok := attacker.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("attacker connect: %v", tok.Error())
	}
	defer attacker.Disconnect(100)
	var capMu sync.Mutex
	var captured []byte
	attacker.Subscribe(demoTopic, 1, func(_ paho.Client, m paho.Message) {
		capMu.Lock()
		captured = bytes.Clone(m.Payload())
		capMu.Unlock()
	}).WaitTimeout(5 * time.Second)

	start := time.Now()
	tick := time.NewTicker(demoPeriod)
	defer tick.Stop()
	attacked := false
	for i := 0; time.Since(start) < *seconds; i++ {
		temp := 21.0 + 1.5*math.Sin(float64(i)/5)
		payload := fmt.Sprintf(`{"seq":%d,"temp_c":%.2f}`, i, temp)
		t0 := time.Now()
		if err := sensor.client.Publish(ctx, demoTopic, []byte(payload)); err != nil {
			return fmt.Errorf("sensor-1 publish: %w", err)
		}
		if i == 0 {
			cs := sensor.codec.Stats()
			log.printf("sensor-1 -> first reading sent after %s (post-quantum handshakes: %d done, %d resumed from the keystore)",
				time.Since(t0).Round(time.Millisecond), cs.HandshakesDone, cs.SessionsResumed)
		}
		capMu.Lock()
		frame := captured
		capMu.Unlock()
		if !attacked && frame != nil && time.Since(start) > *seconds/3 {
			attacked = true
			tampered := tamper(frame)
			for _, a := range []struct {
				what, topic string
				frame       []byte
			}{
				{"replays a captured frame", demoTopic, frame},
				{"tampers with a captured frame (message number changed)", demoTopic, tampered},
				{"re-publishes a captured frame on " + demoReroute, demoReroute, frame},
			} {
				log.printf("attacker %s", a.what)
				attacker.Publish(a.topic, 1, false, a.frame).WaitTimeout(5 * time.Second)
				time.Sleep(50 * time.Millisecond)
			}
		}
		<-tick.C
	}
	time.Sleep(500 * time.Millisecond)

	fmt.Fprintln(e.stdout)
	for _, d := range []*demoDevice{sensor, scada} {
		s, cs := d.client.Stats(), d.codec.Stats()
		fmt.Fprintf(e.stdout, "%s counters: published %d, delivered %d, dropped: unprotect %d, not-for-me %d, rate-limited %d, handshake %d; "+
			"handshakes accepted %d, keep-ratchet accepted %d; announcements accepted %d\n",
			d.id, s.Published, s.Delivered, s.DroppedUnprotect, s.DroppedNotForMe, s.DroppedRateLimited, s.DroppedHandshake,
			s.AcceptedHandshakes, s.AcceptedKeepRatchet, s.AcceptedAnnouncements)
		fmt.Fprintf(e.stdout, "%s codec: session frames %d, sealed frames %d, handshakes started %d / done %d, resumed %d, keep-ratchet sent %d\n",
			d.id, cs.SessionSent, cs.SealedSent, cs.HandshakesStarted, cs.HandshakesDone, cs.SessionsResumed, cs.KeepRatchetSent)
	}
	if s, ok := sensor.codec.Session(demoSCADA); ok {
		fmt.Fprintf(e.stdout, "session sensor-1 -> scada-1: %d post-quantum ratchet steps\n", s.PQSteps())
	}
	rmu.Lock()
	n := readings
	rmu.Unlock()
	rejMu.Lock()
	rej := strings.Join(rejections, "\n")
	nrej := len(rejections)
	rejMu.Unlock()
	if n == 0 || (attacked && nrej < 3) {
		return fmt.Errorf("%w: %d readings delivered, %d attacks rejected:\n%s", errDemo, n, nrej, rej)
	}
	fmt.Fprintf(e.stdout, "\nOK: %d readings delivered and verified, %d forged frames rejected\n", n, nrej)
	return nil
}

// tamper changes the message number inside a session bundle's frame
// (bundle header, then version, type, session id, ratchet key, previous
// chain length, number): the receiver has not seen that number, so what
// refuses the frame is its authentication tag, not the replay window.
// Other frames get their last byte flipped.
func tamper(frame []byte) []byte {
	b := bytes.Clone(frame)
	if len(b) > 3 && b[0] == 0x01 && b[1] == 0x12 {
		off := 3 + int(b[2]) + 1 + 2 + 2 + 16 + 32 + 4 + 3
		if off < len(b) {
			b[off] += 7
			return b
		}
	}
	b[len(b)-1] ^= 0x01
	return b
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
