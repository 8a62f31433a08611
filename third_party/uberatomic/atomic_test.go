package atomic

import (
	"encoding/json"
	"math"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// misaligned reproduces go-coap's udp/client.Conn layout: a 64-bit atomic
// right after a 4-byte field. With go.uber.org/atomic v1.12.0 this layout
// panicked on ARMv7 ("unaligned 64-bit atomic operation").
type misaligned struct {
	flag     uint32
	i64      Int64
	pad1     uint32
	u64      Uint64
	pad2     uint8
	f64      Float64
	pad3     uint16
	dur      Duration
	trailing uint32
}

func TestSixtyFourBitFieldsAreAligned(t *testing.T) {
	// Several allocations, inside a slice too, so that one lucky address
	// cannot make the test pass.
	values := make([]misaligned, 5)
	for k := range values {
		m := &values[k]
		offsets := map[string]uintptr{
			"Int64":    uintptr(unsafe.Pointer(&m.i64.v)),
			"Uint64":   uintptr(unsafe.Pointer(&m.u64.v)),
			"Float64":  uintptr(unsafe.Pointer(&m.f64.bits)),
			"Duration": uintptr(unsafe.Pointer(&m.dur.v)),
		}
		for name, addr := range offsets {
			if addr%8 != 0 {
				t.Errorf("element %d: %s at address %#x, not 8-byte aligned", k, name, addr)
			}
		}
		// The operations that panicked on a misaligned word.
		m.flag = 1
		if got := m.i64.Add(-3); got != -3 {
			t.Errorf("Int64.Add = %d, want -3", got)
		}
		if got := m.u64.Inc(); got != 1 {
			t.Errorf("Uint64.Inc = %d, want 1", got)
		}
		if got := m.f64.Add(0.5); got != 0.5 {
			t.Errorf("Float64.Add = %v, want 0.5", got)
		}
		if !m.dur.CompareAndSwap(0, time.Second) {
			t.Error("Duration.CompareAndSwap(0, 1s) failed on a zero value")
		}
	}
}

func TestInt64(t *testing.T) {
	tests := []struct {
		name string
		op   func(*Int64) int64
		ret  int64
		want int64
	}{
		{"Load", (*Int64).Load, 10, 10},
		{"Add", func(i *Int64) int64 { return i.Add(5) }, 15, 15},
		{"Add negative", func(i *Int64) int64 { return i.Add(-15) }, -5, -5},
		{"Sub", func(i *Int64) int64 { return i.Sub(4) }, 6, 6},
		{"Inc", (*Int64).Inc, 11, 11},
		{"Dec", (*Int64).Dec, 9, 9},
		{"Swap returns old", func(i *Int64) int64 { return i.Swap(math.MinInt64) }, 10, math.MinInt64},
		{"CAS match", func(i *Int64) int64 { return b2i(i.CAS(10, 7)) }, 1, 7},
		{"CAS mismatch", func(i *Int64) int64 { return b2i(i.CAS(11, 7)) }, 0, 10},
		{"CompareAndSwap match", func(i *Int64) int64 { return b2i(i.CompareAndSwap(10, math.MaxInt64)) }, 1, math.MaxInt64},
		{"CompareAndSwap mismatch", func(i *Int64) int64 { return b2i(i.CompareAndSwap(0, 1)) }, 0, 10},
		{"Store", func(i *Int64) int64 { i.Store(-1); return 0 }, 0, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := NewInt64(10)
			if got := tc.op(i); got != tc.ret {
				t.Errorf("returned %d, want %d", got, tc.ret)
			}
			if got := i.Load(); got != tc.want {
				t.Errorf("then Load = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestInt32(t *testing.T) {
	tests := []struct {
		name string
		op   func(*Int32) int32
		ret  int32
		want int32
	}{
		{"Add", func(i *Int32) int32 { return i.Add(5) }, 15, 15},
		{"Sub", func(i *Int32) int32 { return i.Sub(20) }, -10, -10},
		{"Inc", (*Int32).Inc, 11, 11},
		{"Dec", (*Int32).Dec, 9, 9},
		{"Swap", func(i *Int32) int32 { return i.Swap(3) }, 10, 3},
		{"CAS mismatch", func(i *Int32) int32 { return int32(b2i(i.CAS(9, 3))) }, 0, 10},
		{"CompareAndSwap match", func(i *Int32) int32 { return int32(b2i(i.CompareAndSwap(10, 3))) }, 1, 3},
		{"overflow wraps", func(i *Int32) int32 { i.Store(math.MaxInt32); return i.Inc() }, math.MinInt32, math.MinInt32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := NewInt32(10)
			if got := tc.op(i); got != tc.ret {
				t.Errorf("returned %d, want %d", got, tc.ret)
			}
			if got := i.Load(); got != tc.want {
				t.Errorf("then Load = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestUnsigned(t *testing.T) {
	tests := []struct {
		name string
		op   func(*Uint32, *Uint64) (uint32, uint64)
		ret  [2]uint64
		want [2]uint64
	}{
		{"Add", func(a *Uint32, b *Uint64) (uint32, uint64) { return a.Add(2), b.Add(2) }, [2]uint64{7, 7}, [2]uint64{7, 7}},
		{"Sub", func(a *Uint32, b *Uint64) (uint32, uint64) { return a.Sub(2), b.Sub(2) }, [2]uint64{3, 3}, [2]uint64{3, 3}},
		{"Sub below zero wraps", func(a *Uint32, b *Uint64) (uint32, uint64) { return a.Sub(6), b.Sub(6) },
			[2]uint64{math.MaxUint32, math.MaxUint64}, [2]uint64{math.MaxUint32, math.MaxUint64}},
		{"Sub zero", func(a *Uint32, b *Uint64) (uint32, uint64) { return a.Sub(0), b.Sub(0) }, [2]uint64{5, 5}, [2]uint64{5, 5}},
		{"Inc", func(a *Uint32, b *Uint64) (uint32, uint64) { return a.Inc(), b.Inc() }, [2]uint64{6, 6}, [2]uint64{6, 6}},
		{"Dec", func(a *Uint32, b *Uint64) (uint32, uint64) { return a.Dec(), b.Dec() }, [2]uint64{4, 4}, [2]uint64{4, 4}},
		{"Swap", func(a *Uint32, b *Uint64) (uint32, uint64) { return a.Swap(9), b.Swap(1 << 40) }, [2]uint64{5, 5}, [2]uint64{9, 1 << 40}},
		{"CAS match", func(a *Uint32, b *Uint64) (uint32, uint64) {
			return uint32(b2i(a.CAS(5, 1))), uint64(b2i(b.CAS(5, 1)))
		}, [2]uint64{1, 1}, [2]uint64{1, 1}},
		{"CompareAndSwap mismatch", func(a *Uint32, b *Uint64) (uint32, uint64) {
			return uint32(b2i(a.CompareAndSwap(4, 1))), uint64(b2i(b.CompareAndSwap(4, 1)))
		}, [2]uint64{0, 0}, [2]uint64{5, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := NewUint32(5), NewUint64(5)
			r32, r64 := tc.op(a, b)
			if uint64(r32) != tc.ret[0] || r64 != tc.ret[1] {
				t.Errorf("returned (%d, %d), want (%d, %d)", r32, r64, tc.ret[0], tc.ret[1])
			}
			if uint64(a.Load()) != tc.want[0] || b.Load() != tc.want[1] {
				t.Errorf("then Load = (%d, %d), want (%d, %d)", a.Load(), b.Load(), tc.want[0], tc.want[1])
			}
		})
	}
}

func TestBool(t *testing.T) {
	tests := []struct {
		name      string
		start     bool
		op        func(*Bool) bool
		ret, want bool
	}{
		{"Toggle from false", false, (*Bool).Toggle, false, true},
		{"Toggle from true", true, (*Bool).Toggle, true, false},
		{"Swap", false, func(b *Bool) bool { return b.Swap(true) }, false, true},
		{"CAS match", true, func(b *Bool) bool { return b.CAS(true, false) }, true, false},
		{"CAS mismatch", true, func(b *Bool) bool { return b.CAS(false, false) }, false, true},
		{"CompareAndSwap match", false, func(b *Bool) bool { return b.CompareAndSwap(false, true) }, true, true},
		{"CompareAndSwap mismatch", false, func(b *Bool) bool { return b.CompareAndSwap(true, false) }, false, false},
		{"Store", false, func(b *Bool) bool { b.Store(true); return false }, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBool(tc.start)
			if got := tc.op(b); got != tc.ret {
				t.Errorf("returned %v, want %v", got, tc.ret)
			}
			if got := b.Load(); got != tc.want {
				t.Errorf("then Load = %v, want %v", got, tc.want)
			}
		})
	}
	var zero Bool
	if zero.Load() {
		t.Error("zero Bool loads true")
	}
}

func TestFloat64(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name      string
		start     float64
		op        func(*Float64) float64
		ret, want float64
	}{
		{"Add", 1.5, func(f *Float64) float64 { return f.Add(2.25) }, 3.75, 3.75},
		{"Sub", 1.5, func(f *Float64) float64 { return f.Sub(2) }, -0.5, -0.5},
		{"Swap", 1.5, func(f *Float64) float64 { return f.Swap(math.Inf(-1)) }, 1.5, math.Inf(-1)},
		{"CAS match", 1.5, func(f *Float64) float64 { return float64(b2i(f.CAS(1.5, 2))) }, 1, 2},
		{"CompareAndSwap mismatch", 1.5, func(f *Float64) float64 { return float64(b2i(f.CompareAndSwap(1.25, 2))) }, 0, 1.5},
		// Bit comparison: the NaN that was stored is found again.
		{"CompareAndSwap same NaN", nan, func(f *Float64) float64 { return float64(b2i(f.CompareAndSwap(nan, 1))) }, 1, 1},
		// Bit comparison: -0 is not +0.
		{"CompareAndSwap -0 vs +0", math.Copysign(0, -1), func(f *Float64) float64 { return float64(b2i(f.CompareAndSwap(0, 1))) }, 0, math.Copysign(0, -1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFloat64(tc.start)
			if got := tc.op(f); got != tc.ret {
				t.Errorf("returned %v, want %v", got, tc.ret)
			}
			if got := f.Load(); math.Float64bits(got) != math.Float64bits(tc.want) {
				t.Errorf("then Load = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	d := NewDuration(time.Second)
	steps := []struct {
		name      string
		op        func() time.Duration
		ret, want time.Duration
	}{
		{"Add", func() time.Duration { return d.Add(500 * time.Millisecond) }, 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"Sub", func() time.Duration { return d.Sub(time.Second) }, 500 * time.Millisecond, 500 * time.Millisecond},
		{"Swap", func() time.Duration { return d.Swap(time.Hour) }, 500 * time.Millisecond, time.Hour},
		{"CAS mismatch", func() time.Duration { return time.Duration(b2i(d.CAS(time.Minute, 0))) }, 0, time.Hour},
		{"CompareAndSwap match", func() time.Duration { return time.Duration(b2i(d.CompareAndSwap(time.Hour, 2))) }, 1, 2},
	}
	// Steps run in order: each starts from the previous one's result.
	for _, s := range steps {
		if got := s.op(); got != s.ret {
			t.Errorf("%s returned %v, want %v", s.name, got, s.ret)
		}
		if got := d.Load(); got != s.want {
			t.Errorf("%s: then Load = %v, want %v", s.name, got, s.want)
		}
	}
	if got := NewDuration(90 * time.Second).String(); got != "1m30s" {
		t.Errorf("String = %q, want 1m30s", got)
	}
}

func TestTime(t *testing.T) {
	var zero Time
	if got := zero.Load(); !got.IsZero() {
		t.Errorf("zero Time loads %v, want the zero time", got)
	}
	when := time.Date(2026, 11, 24, 4, 0, 0, 7, time.UTC)
	tm := NewTime(when)
	if got := tm.Load(); !got.Equal(when) {
		t.Errorf("Load = %v, want %v", got, when)
	}
	later := when.Add(time.Hour)
	tm.Store(later)
	if got := tm.Load(); !got.Equal(later) {
		t.Errorf("after Store, Load = %v, want %v", got, later)
	}
}

func TestPointers(t *testing.T) {
	a, b := 1, 2
	p := NewPointer(&a)
	if p.Load() != &a {
		t.Fatal("Pointer.Load does not return the stored pointer")
	}
	if p.CompareAndSwap(&b, nil) {
		t.Error("Pointer.CompareAndSwap swapped on a mismatch")
	}
	if !p.CompareAndSwap(&a, &b) || p.Load() != &b {
		t.Error("Pointer.CompareAndSwap did not swap on a match")
	}
	if old := p.Swap(nil); old != &b || p.Load() != nil {
		t.Error("Pointer.Swap did not return the old pointer and store nil")
	}
	var zp Pointer[int]
	if zp.Load() != nil {
		t.Error("zero Pointer is not nil")
	}

	u := NewUnsafePointer(unsafe.Pointer(&a))
	if u.Load() != unsafe.Pointer(&a) {
		t.Fatal("UnsafePointer.Load does not return the stored pointer")
	}
	if u.CAS(unsafe.Pointer(&b), nil) {
		t.Error("UnsafePointer.CAS swapped on a mismatch")
	}
	if !u.CompareAndSwap(unsafe.Pointer(&a), unsafe.Pointer(&b)) {
		t.Error("UnsafePointer.CompareAndSwap did not swap on a match")
	}
	if old := u.Swap(nil); old != unsafe.Pointer(&b) || u.Load() != nil {
		t.Error("UnsafePointer.Swap did not return the old pointer and store nil")
	}
	u.Store(unsafe.Pointer(&a))
	if u.Load() != unsafe.Pointer(&a) {
		t.Error("UnsafePointer.Store then Load lost the pointer")
	}
}

func TestValue(t *testing.T) {
	var v Value
	if v.Load() != nil {
		t.Error("zero Value loads non-nil")
	}
	v.Store("a")
	if !v.CompareAndSwap("a", "b") || v.Load() != "b" {
		t.Error("Value.CompareAndSwap did not swap on a match")
	}
	if old := v.Swap("c"); old != "b" {
		t.Errorf("Value.Swap returned %v, want b", old)
	}
	// sync/atomic.Value's rule, kept: a different concrete type is refused.
	defer func() {
		if recover() == nil {
			t.Error("storing an int after a string did not panic")
		}
	}()
	v.Store(1)
}

func TestTextForms(t *testing.T) {
	tests := []struct {
		name string
		v    interface {
			json.Marshaler
			String() string
		}
		json, str string
	}{
		{"Int32", NewInt32(-7), "-7", "-7"},
		{"Int64", NewInt64(math.MinInt64), "-9223372036854775808", "-9223372036854775808"},
		{"Uint32", NewUint32(math.MaxUint32), "4294967295", "4294967295"},
		{"Uint64", NewUint64(math.MaxUint64), "18446744073709551615", "18446744073709551615"},
		{"Bool", NewBool(true), "true", "true"},
		{"Float64", NewFloat64(0.1), "0.1", "0.1"},
		{"Duration", NewDuration(time.Millisecond), "1000000", "1ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.v.MarshalJSON()
			if err != nil || string(b) != tc.json {
				t.Errorf("MarshalJSON = %s, %v; want %s", b, err, tc.json)
			}
			if got := tc.v.String(); got != tc.str {
				t.Errorf("String = %q, want %q", got, tc.str)
			}
		})
	}
}

func TestUnmarshalJSON(t *testing.T) {
	i64, u32, b, f, d := NewInt64(1), NewUint32(1), NewBool(false), NewFloat64(1), NewDuration(1)
	tests := []struct {
		name    string
		v       json.Unmarshaler
		in      string
		check   func() bool
		wantErr bool
	}{
		{"Int64", i64, "-42", func() bool { return i64.Load() == -42 }, false},
		{"Int64 oversized", i64, "9223372036854775808", func() bool { return i64.Load() == -42 }, true},
		{"Uint32 negative", u32, "-1", func() bool { return u32.Load() == 1 }, true},
		{"Bool", b, "true", func() bool { return b.Load() }, false},
		{"Bool from string", b, `"false"`, func() bool { return b.Load() }, true},
		{"Float64", f, "2.5", func() bool { return f.Load() == 2.5 }, false},
		{"Float64 truncated", f, "2.", func() bool { return f.Load() == 2.5 }, true},
		{"Duration", d, "1000", func() bool { return d.Load() == time.Microsecond }, false},
		{"Duration as text", d, `"1s"`, func() bool { return d.Load() == time.Microsecond }, true},
	}
	// Rows run in order; a failing row must leave the previous value.
	for _, tc := range tests {
		err := tc.v.UnmarshalJSON([]byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: UnmarshalJSON(%s) error = %v, want error: %v", tc.name, tc.in, err, tc.wantErr)
		}
		if !tc.check() {
			t.Errorf("%s: wrong value after UnmarshalJSON(%s) (a failed decode must not store)", tc.name, tc.in)
		}
	}
}

// TestConcurrentUpdatesAreAtomic checks that no update is lost when many
// goroutines race: a non-atomic read-modify-write would lose some.
func TestConcurrentUpdatesAreAtomic(t *testing.T) {
	const workers, perWorker = 8, 2000
	var (
		m      misaligned
		i32    Int32
		u32    Uint32
		toggle Bool
		wg     sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < perWorker; k++ {
				m.i64.Inc()
				m.u64.Add(2)
				m.f64.Add(1)
				m.dur.Add(time.Nanosecond)
				i32.Dec()
				u32.Inc()
				toggle.Toggle()
			}
		}()
	}
	wg.Wait()
	const n = workers * perWorker
	checks := []struct {
		name      string
		got, want float64
	}{
		{"Int64", float64(m.i64.Load()), n},
		{"Uint64", float64(m.u64.Load()), 2 * n},
		{"Float64", m.f64.Load(), n},
		{"Duration", float64(m.dur.Load()), n},
		{"Int32", float64(i32.Load()), -n},
		{"Uint32", float64(u32.Load()), n},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v after %d concurrent updates, want %v", c.name, c.got, n, c.want)
		}
	}
	// An even number of toggles returns to the start.
	if toggle.Load() {
		t.Error("Bool is true after an even number of concurrent toggles")
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
