package oscore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

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
		{"smaller blocks after the server asked (RFC 7959 §2.5)", []step{{block{num: 0, more: true, szx: 1}, append(full('a'), full('a')...), false, 0},
			{blk(2, true), full('b'), false, 0}, {blk(3, false), []byte("c"), true, 0}},
			append(append(append(full('a'), full('a')...), full('b')...), 'c')},
		{"block at the wrong offset after a size change", []step{{block{num: 0, more: true, szx: 1}, append(full('a'), full('a')...), false, 0},
			{blk(1, false), []byte("c"), false, codes.RequestEntityIncomplete}}, nil},
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

func TestResponseCacheBounds(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	body := func(n int) message.Message { return message.Message{Code: codes.Content, Payload: make([]byte, n)} }
	t.Run("entries: the oldest goes first", func(t *testing.T) {
		c := newResponseCache(clock)
		for i := range maxCachedResponses + 5 {
			c.put(fmt.Sprint(i), body(10))
		}
		if len(c.entries) != maxCachedResponses {
			t.Fatalf("%d entries kept, bound %d", len(c.entries), maxCachedResponses)
		}
		if _, ok := c.get("0"); ok {
			t.Fatal("oldest entry survived")
		}
		if _, ok := c.get(fmt.Sprint(maxCachedResponses + 4)); !ok {
			t.Fatal("newest entry evicted")
		}
	})
	t.Run("bytes", func(t *testing.T) {
		c := newResponseCache(clock)
		for i := range 8 {
			c.put(fmt.Sprint(i), body(MaxInnerBody))
		}
		if c.bytes > maxCachedBytes {
			t.Fatalf("%d bytes kept, bound %d", c.bytes, maxCachedBytes)
		}
	})
	t.Run("time", func(t *testing.T) {
		c := newResponseCache(clock)
		c.put("k", body(10))
		now = now.Add(responseCacheTTL - time.Nanosecond)
		if _, ok := c.get("k"); !ok {
			t.Fatal("entry expired early")
		}
		now = now.Add(time.Nanosecond)
		if _, ok := c.get("k"); ok || c.bytes != 0 {
			t.Fatalf("expired entry served (bytes accounted %d)", c.bytes)
		}
	})
	t.Run("replace and drop keep the byte count", func(t *testing.T) {
		c := newResponseCache(clock)
		c.put("k", body(100))
		c.put("k", body(30))
		if c.bytes != 30 {
			t.Fatalf("bytes %d after replacement", c.bytes)
		}
		c.drop("k")
		if c.bytes != 0 || len(c.entries) != 0 {
			t.Fatalf("bytes %d, %d entries after drop", c.bytes, len(c.entries))
		}
	})
}

// TestContinues: the client accepts a Block2 answer only when it continues
// the body exactly where it stopped, with the first block's code and ETag.
func TestContinues(t *testing.T) {
	blk := func(num uint32, more bool, payload int, code codes.Code, etag []byte) message.Message {
		m := message.Message{Code: code, Payload: make([]byte, payload),
			Options: message.Options{block{num: num, more: more, szx: 0}.option(message.Block2)}}
		if etag != nil {
			m.Options = setOption(m.Options, message.Option{ID: message.ETag, Value: etag})
		}
		return m
	}
	tests := []struct {
		name string
		r    message.Message
		etag []byte
		ok   bool
	}{
		{"next block", blk(2, true, 16, codes.Content, nil), nil, true},
		{"last, short block", blk(2, false, 5, codes.Content, nil), nil, true},
		{"same ETag", blk(2, false, 5, codes.Content, []byte{1}), []byte{1}, true},
		{"skipped block", blk(3, true, 16, codes.Content, nil), nil, false},
		{"repeated block", blk(1, true, 16, codes.Content, nil), nil, false},
		{"other code", blk(2, true, 16, codes.Changed, nil), nil, false},
		{"changed ETag", blk(2, false, 5, codes.Content, []byte{2}), []byte{1}, false},
		{"ETag appeared", blk(2, false, 5, codes.Content, []byte{2}), nil, false},
		{"short block with more", blk(2, true, 15, codes.Content, nil), nil, false},
		{"empty block", blk(2, false, 0, codes.Content, nil), nil, false},
		{"no Block2", message.Message{Code: codes.Content, Payload: []byte("x")}, nil, false},
		{"error answer", message.Message{Code: codes.RequestEntityIncomplete}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := continues(tc.r, codes.Content, tc.etag, 32)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBlockMixup) {
				t.Fatalf("error %v does not wrap ErrBlockMixup", err)
			}
		})
	}
}
