package oscore

import (
	"bytes"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

func TestAssembler(t *testing.T) {
	blk := func(num uint32, more bool) block { return block{num: num, more: more, szx: 0} } // 16-byte blocks
	full := func(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }
	type step struct {
		b       block
		payload []byte
		done    bool
		fail    codes.Code
	}
	tests := []struct {
		name  string
		steps []step
		want  []byte
	}{
		{"in order", []step{{blk(0, true), full('a'), false, 0}, {blk(1, true), full('b'), false, 0}, {blk(2, false), []byte("c"), true, 0}},
			append(append(full('a'), full('b')...), 'c')},
		{"single last block", []step{{blk(0, false), []byte("only"), true, 0}}, []byte("only")},
		{"gap", []step{{blk(0, true), full('a'), false, 0}, {blk(2, false), []byte("c"), false, codes.RequestEntityIncomplete}}, nil},
		{"no first block", []step{{blk(1, false), []byte("x"), false, codes.RequestEntityIncomplete}}, nil},
		{"repeated block", []step{{blk(0, true), full('a'), false, 0}, {blk(0, true), full('a'), false, 0}, {blk(1, false), []byte("z"), true, 0}},
			append(full('a'), 'z')},
		{"short non-final block", []step{{blk(0, true), []byte("short"), false, codes.BadRequest}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAssembler()
			var body []byte
			for i, st := range tc.steps {
				b, done, fail := a.add("k", st.b, st.payload)
				if done != st.done || fail != st.fail {
					t.Fatalf("step %d: done=%v fail=%v, want %v %v", i, done, fail, st.done, st.fail)
				}
				body = b
			}
			if tc.want != nil && !bytes.Equal(body, tc.want) {
				t.Fatalf("body %q, want %q", body, tc.want)
			}
		})
	}
}

func TestAssemblerBounds(t *testing.T) {
	a := newAssembler()
	big := block{num: 0, more: true, szx: 6} // 1024-byte blocks
	chunk := make([]byte, 1024)
	var fail codes.Code
	for n := uint32(0); fail == 0; n++ {
		big.num = n
		_, _, fail = a.add("k", big, chunk)
		if n > MaxInnerBody/1024+1 {
			t.Fatal("body grew past MaxInnerBody")
		}
	}
	if fail != codes.RequestEntityTooLarge {
		t.Fatalf("oversized body: %v", fail)
	}
	for i := 0; i < 3*maxPartialBodies; i++ {
		a.add(string(rune('A'+i)), block{more: true}, make([]byte, 16))
	}
	if len(a.partial) > maxPartialBodies {
		t.Fatalf("%d partial bodies kept, bound is %d", len(a.partial), maxPartialBodies)
	}
}

func TestSliceBody(t *testing.T) {
	resp := message.Message{Code: codes.Content, Payload: bytes.Repeat([]byte{'x'}, 40)}
	for _, tc := range []struct {
		num      uint32
		wantLen  int
		wantMore bool
		wantErr  bool
	}{{0, 16, true, false}, {1, 16, true, false}, {2, 8, false, false}, {3, 0, false, true}} {
		out, err := sliceBody(resp, block{num: tc.num, szx: 0})
		if (err != nil) != tc.wantErr {
			t.Fatalf("block %d: err %v", tc.num, err)
		}
		if err != nil {
			continue
		}
		b, ok, _ := blockOption(out.Options, message.Block2)
		if len(out.Payload) != tc.wantLen || !ok || b.more != tc.wantMore || b.num != tc.num {
			t.Fatalf("block %d: %d bytes, option %+v", tc.num, len(out.Payload), b)
		}
	}
}
