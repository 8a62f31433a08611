package identity

import (
	"bytes"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Size limits checked before any parsing (security rule 4).
const (
	MaxObjectSize     = 64 << 10  // certificates, announcements, requests, policy
	MaxRevocationSize = 512 << 10 // cumulative lists grow with the fleet
	maxChainLength    = 4         // leaf + up to 2 intermediates + root
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	// RFC 8949 §4.2.1 core deterministic encoding: shortest forms, sorted
	// map keys, no indefinite lengths.
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   8,
		MaxArrayElements:  1 << 16,
		MaxMapPairs:       64,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// unmarshalCanonical decodes strictly and then insists the bytes are the
// deterministic encoding of what was decoded, so every object has exactly
// one accepted byte form (signatures then cover a unique representation).
func unmarshalCanonical(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("%w: not deterministic CBOR", ErrMalformed)
	}
	return nil
}
