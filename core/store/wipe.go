package store

import (
	"crypto/cipher"
	"reflect"
	"unsafe"
)

// wipeAEAD zeroes the key that x/crypto's XChaCha20-Poly1305 keeps inside its
// unexported struct, which has no API to erase it. It looks the field up by
// name, type and size and does nothing (returning false) if the layout ever
// changes; TestWipeAEAD notices that.
func wipeAEAD(a cipher.AEAD) bool {
	v := reflect.ValueOf(a)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	e := v.Elem()
	f, ok := e.Type().FieldByName("key")
	if !ok || f.Type.Kind() != reflect.Array || f.Type.Elem().Kind() != reflect.Uint8 || f.Type.Len() != keySize {
		return false
	}
	fv := e.FieldByIndex(f.Index)
	clear(unsafe.Slice((*byte)(unsafe.Pointer(fv.UnsafeAddr())), keySize))
	return true
}
