package ffmpeg

import (
	"slices"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/profiles"
)

// The rate control the profiles name reaches x264: fixed rates by default,
// or constant quality under 95 % of the rung's rate with a one-second
// buffer.
func TestRateControlArgs(t *testing.T) {
	p, err := profiles.Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	o := Output{VideoKbps: 2000, MaxrateKbps: 2200, BufsizeKbps: 4000}
	for _, tc := range []struct {
		rate    string
		crf     float64
		want    []string
		without []string
	}{
		// Keyframes on every 30th frame (the interval at 15 fps).
		{"", 0, []string{"-b:v 2000k", "-maxrate 2200k", "-bufsize 4000k", "-force_key_frames expr:eq(mod(n,30),0)"}, []string{"-crf"}},
		{profiles.RateCappedCRF, 0, []string{"-crf 20", "-maxrate 1900k", "-bufsize 2000k"}, []string{"-b:v"}},
		{profiles.RateCappedCRF, 19.5, []string{"-crf 19.5"}, []string{"-b:v"}},
	} {
		p.Video.RateControl, p.Video.CRF = tc.rate, tc.crf
		args := x264Args(p, o, 61, 30)
		line := " " + strings.Join(args, " ") + " "
		for _, w := range tc.want {
			if !strings.Contains(line, " "+w+" ") {
				t.Errorf("%q: %s lacks %s", tc.rate, line, w)
			}
		}
		for _, w := range tc.without {
			if slices.Contains(args, w) {
				t.Errorf("%q: %s has %s", tc.rate, line, w)
			}
		}
	}
}
