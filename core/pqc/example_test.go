package pqc_test

import (
	"bytes"
	"fmt"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// A KEM exchange: the receiver publishes pk, the sender encapsulates to it,
// both hold the same 32-byte secret.
func ExampleKEMByName() {
	kem, err := pqc.KEMByName("ML-KEM-768")
	if err != nil {
		panic(err)
	}
	pk, sk, _ := kem.GenerateKey(nil)
	ct, senderSecret, _ := kem.Encapsulate(pk, nil)
	receiverSecret, _ := kem.Decapsulate(sk, ct)
	fmt.Println(len(ct), bytes.Equal(senderSecret, receiverSecret))
	// Output: 1088 true
}

func ExampleSignatureByName() {
	sig, err := pqc.SignatureByName("ML-DSA-65")
	if err != nil {
		panic(err)
	}
	pk, sk, _ := sig.GenerateKey(nil)
	msg := []byte("valve 7 open")
	s, _ := sig.Sign(sk, msg)
	fmt.Println(sig.Verify(pk, msg, s) == nil)
	fmt.Println(sig.Verify(pk, []byte("valve 7 shut"), s))
	// Output:
	// true
	// ML-DSA-65: signature verification failed
}
