package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt"
)

// controlServe runs the fleet's control plane: the online half of the CA,
// holding no signing key. Devices that connect to a broker without fresh
// retained objects (a broker that lost its state, a policy demanding a
// newer revocation list) ask on pqc/v1/sync/<id>, and something has to
// answer; this is that something, for fleets without a Go program of
// their own running mqtt.ControlPlane.
func controlServe(e *env, args []string) error {
	fs := newFlags(e, "control serve", "Run the control plane until SIGINT or SIGTERM: verify the given CA-signed policy and revocation list against the anchor, publish them retained on pqc/v1/policy and pqc/v1/revocation, adopt newer ones found retained on the broker, and answer every device's sync request (pqc/v1/sync/<id>) with the current objects on pqc/v1/sync/<id>/policy and .../revocation, within a per-device and a global budget. It holds no CA key. Usage: pqc-iiot control serve --broker URL --anchor ca.cert [--policy FILE] [--revocation FILE]")
	bf := addBrokerFlags(fs)
	anchor := fs.String("anchor", "", "CA certificate (ca.cert) every object must verify against")
	policy := fs.String("policy", "", "CA-signed policy to publish at start (otherwise the one retained on the broker is served)")
	revocation := fs.String("revocation", "", "CA-signed revocation list to publish at start (otherwise the retained one)")
	clientID := fs.String("client-id", "pqc-control-plane", "MQTT client id (one control plane per id: the broker drops an older connection with the same id)")
	peerRate := fs.Float64("sync-rate", 1, "sync requests answered per second and device")
	peerBurst := fs.Uint("sync-burst", 3, "burst of sync requests answered per device")
	globalRate := fs.Float64("sync-global-rate", 50, "sync requests answered per second, all devices")
	globalBurst := fs.Uint("sync-global-burst", 100, "burst of sync requests answered, all devices")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on connecting and on the start-up publishes")
	if err := parse(fs, args, "broker", "anchor"); err != nil {
		return err
	}
	if *peerRate <= 0 || *globalRate <= 0 || *peerBurst == 0 || *globalBurst == 0 {
		return fmt.Errorf("sync budgets must be positive: %w", errUsage)
	}
	objects, err := readControlObjects(*policy, *revocation)
	if err != nil {
		return err
	}
	cp, trust, err := bf.controlPlane(*anchor, mqtt.ControlPlaneOptions{ClientID: *clientID,
		SyncPeer:   identity.RateLimit{Rate: *peerRate, Burst: uint32(*peerBurst)},
		SyncGlobal: identity.RateLimit{Rate: *globalRate, Burst: uint32(*globalBurst)}})
	if err != nil {
		return err
	}
	defer cp.Close()
	// Signals are caught from here on, so a SIGTERM during start-up also
	// ends in a clean disconnect.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := startControlPlane(ctx, cp, objects, *timeout); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "control plane serving on %s: policy seq %s, revocation seq %s\n",
		*bf.broker, policySeq(trust), revocationSeq(trust))
	<-ctx.Done()
	st := cp.Stats()
	fmt.Fprintf(e.stdout, "stopped: %d sync requests answered, %d over budget, %d dropped; %d retained policies and %d lists refused\n",
		st.SyncAnswered, st.SyncRateLimited, st.SyncDropped, st.DroppedPolicy, st.DroppedRevocation)
	return nil
}

// controlObject is a file to publish at start.
type controlObject struct {
	path    string
	data    []byte
	publish func(*mqtt.ControlPlane, context.Context, []byte) error
}

func readControlObjects(policy, revocation string) ([]controlObject, error) {
	var out []controlObject
	for _, o := range []controlObject{
		{path: policy, publish: (*mqtt.ControlPlane).PublishPolicy},
		{path: revocation, publish: (*mqtt.ControlPlane).PublishRevocation},
	} {
		if o.path == "" {
			continue
		}
		var err error
		if o.data, err = readIn(o.path); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// startControlPlane connects, lets the control plane adopt what the
// broker retains (so a rollback is refused here, not by every device),
// then publishes the given objects.
func startControlPlane(ctx context.Context, cp *mqtt.ControlPlane, objects []controlObject, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cp.Connect(ctx); err != nil {
		return err
	}
	select {
	case <-time.After(500 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, o := range objects {
		if err := o.publish(cp, ctx, o.data); err != nil {
			return fmt.Errorf("%s: %w", o.path, err)
		}
	}
	return nil
}

func policySeq(t *identity.Trust) string {
	if p := t.Policy(); p != nil {
		return fmt.Sprint(p.Sequence)
	}
	return "none"
}

func revocationSeq(t *identity.Trust) string {
	if r := t.Revocation(); r != nil {
		return fmt.Sprint(r.Sequence)
	}
	return "none"
}
