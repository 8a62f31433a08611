package mqtt

import (
	"fmt"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt/brokertest"
)

// Clock faults end to end, through a real Mosquitto and the production codec.
// The clocks of sender and receiver jump independently, backwards and
// forwards within the policy's lifetime, and the sender restarts with its
// clock set back: frames keep flowing, each is delivered once, and every
// frame captured on the broker before a jump is refused when injected again
// after it.
func TestIntegrationMosquitto_SessionCodecClockJumpsNoReplay(t *testing.T) {
	const hour = 3600
	for _, mode := range []CodecMode{ModeSealed, ModeSessions} {
		t.Run(map[CodecMode]string{ModeSealed: "sealed", ModeSessions: "sessions"}[mode], func(t *testing.T) {
			mq := brokertest.Start(t)
			// The fleet is made 3 h in the past: certificates are checked
			// at every use, and the jumps below stay inside their validity.
			past := time.Now().Add(-3 * time.Hour)
			root, err := identity.NewRootCA("plant-root", "ML-DSA-44", past.Add(-time.Hour), 10*365*24*time.Hour, 1)
			if err != nil {
				t.Fatal(err)
			}
			f := &testFleet{root: root, now: past}
			a := newRNode(t, f, mq.URL(), "sensor-a", pubPlant, mode, nil)
			r := newRNode(t, f, mq.URL(), "scada-1", subPlant, mode, nil)
			a.knows(t, "scada-1")
			r.knows(t, "sensor-a")
			var got inbox
			r.client.Subscribe("plant/a/v", got.add)
			sp := newSpy(t, mq.URL(), "plant/#")
			inj := plainClient(t, mq.URL(), "injector")

			var captured [][]byte
			delivered := 0
			publish := func(step string) {
				t.Helper()
				msg := fmt.Sprintf("reading %d (%s)", delivered, step)
				if err := a.client.Publish(ctxT(t, 15*time.Second), "plant/a/v", []byte(msg)); err != nil {
					t.Fatalf("%s: publish: %v", step, err)
				}
				captured = append(captured, sp.take(t, "plant/a/v"))
				delivered++
				waitUntil(t, 5*time.Second, step+": delivery", func() bool { return got.len() == delivered })
				if p := string(got.all()[delivered-1].Payload); p != msg {
					t.Fatalf("%s: delivered %q, want %q", step, p, msg)
				}
			}
			replayAll := func(step string) {
				t.Helper()
				before := r.client.Stats().DroppedUnprotect
				for i, frame := range captured {
					plainPublish(t, inj, "plant/a/v", 1, false, frame)
					waitUntil(t, 5*time.Second, fmt.Sprintf("%s: captured frame %d refused", step, i), func() bool {
						return r.client.Stats().DroppedUnprotect == before+uint64(i+1)
					})
				}
				if got.len() != delivered {
					t.Fatalf("%s: %d deliveries after replays, want %d", step, got.len(), delivered)
				}
			}

			publish("clocks agree")
			for _, step := range []struct {
				name           string
				sender, reader int64 // clock offsets in seconds
			}{
				{"reader 2 h back", 0, -2 * hour},
				{"reader 3 days ahead", 0, 72 * hour},
				{"sender 2 h back", -2 * hour, 72 * hour},
				{"both back to true time", 0, 0},
			} {
				a.clock.Store(step.sender)
				r.clock.Store(step.reader)
				publish(step.name)
				replayAll(step.name)
			}

			// The sender restarts with its clock an hour back: its
			// durable sequence numbers and sessions carry on, nothing is
			// reused, and the old frames stay refused.
			a.stop()
			a.clock.Store(-hour)
			a.start(t, mq.URL(), mode, nil)
			// The new codec addresses scada-1 once it has read the
			// retained announcement again (sealed mode has no resumed
			// session to know it from).
			waitUntil(t, 10*time.Second, "scada-1 addressable after the restart", func() bool {
				a.codec.mu.Lock()
				defer a.codec.mu.Unlock()
				return a.codec.known["scada-1"]
			})
			publish("sender restarted, clock 1 h back")
			replayAll("after the restart")
		})
	}
}
