package identity

import (
	"context"
	"fmt"
	"time"
)

// Rotation is a key-rotation schedule: operational keys live Interval, the
// previous epoch stays acceptable for Overlap after the new one is
// installed, and Renew carries a renewal request to the CA and brings the
// new chain back (over MQTT, CoAP, or a call into an in-process Enroller).
type Rotation struct {
	Interval time.Duration
	Overlap  time.Duration
	Renew    func(ctx context.Context, request []byte) (chain []byte, err error)
}

// FromPolicy takes the interval and overlap from fleet policy when
// it sets them, keeping the configured values otherwise.
func (r Rotation) FromPolicy(p *Policy) Rotation {
	if p != nil && p.RotationSeconds > 0 {
		r.Interval = time.Duration(p.RotationSeconds) * time.Second
	}
	if p != nil && p.OverlapSeconds > 0 {
		r.Overlap = time.Duration(p.OverlapSeconds) * time.Second
	}
	return r
}

// Rotate does one step of the schedule: it destroys the previous epoch's
// keys if their overlap is over, and if the current certificate is older
// than the interval it renews: new keys, a renewal request, the CA's
// answer, the install. It reports whether a new epoch was installed. Call
// it periodically; a failed renewal leaves the current keys in place and
// is retried at the next call.
func (d *Device) Rotate(ctx context.Context, trust *Trust, r Rotation, now time.Time) (bool, error) {
	if r.Interval <= 0 || r.Renew == nil {
		return false, fmt.Errorf("rotation needs an interval and a renew function: %w", ErrMalformed)
	}
	if _, err := d.Prune(now); err != nil {
		return false, fmt.Errorf("prune previous keys: %w", err)
	}
	due, err := d.RotationDue(r.Interval, now)
	if err != nil || !due {
		return false, err
	}
	req, err := d.RenewalRequest(now)
	if err != nil {
		return false, err
	}
	chain, err := r.Renew(ctx, req)
	if err != nil {
		return false, fmt.Errorf("renewal: %w", err)
	}
	if _, err := d.Install(chain, trust, r.Overlap, now); err != nil {
		return false, err
	}
	return true, nil
}
