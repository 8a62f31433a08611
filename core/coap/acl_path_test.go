package coap

import "testing"

// Path rules match on '/' boundaries; "#" and "/" cover everything.
func TestPathCovered(t *testing.T) {
	for _, tc := range []struct {
		prefix, path string
		want         bool
	}{
		{"#", "/anything", true},
		{"/#", "/", true},
		{"/", "/sensors/temp", true},
		{"/sensors", "/sensors", true},
		{"/sensors", "/sensors/temp", true},
		{"sensors/", "sensors/temp/", true},
		{"/sensors", "/sensorsX", false},
		{"/sensors/temp", "/sensors", false},
		{"/sensors", "/valves/1", false},
		{"/sensors", "", false},
	} {
		if got := pathCovered(tc.prefix, tc.path); got != tc.want {
			t.Errorf("pathCovered(%q, %q) = %v, want %v", tc.prefix, tc.path, got, tc.want)
		}
	}
}
