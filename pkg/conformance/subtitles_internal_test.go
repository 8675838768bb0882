package conformance

import (
	"bytes"
	"testing"
)

// FuzzWebVTTSegment feeds the checker's WebVTT segment reader (bytes from
// the server checked: untrusted) anything: it must not panic, and it finds
// nothing wrong only in a segment that starts with the WEBVTT header and
// names an X-TIMESTAMP-MAP.
func FuzzWebVTTSegment(f *testing.F) {
	f.Add([]byte("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:216000,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:02.000\nHello\n"))
	f.Add([]byte("WEBVTT\n\n00:01.000 --> 00:02.000 align:start\n<i>a</i>\n"))
	f.Add([]byte("WEBVTT\nX-TIMESTAMP-MAP=LOCAL:99:59:59.999,MPEGTS:-1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &checker{}
		c.webVTTSegment("s.vtt", 0, b, 0, 6, &variant{starts: []float64{2.4}})
		if len(c.report.Findings) == 0 && (!bytes.HasPrefix(b, []byte("WEBVTT")) || !bytes.Contains(b, []byte("X-TIMESTAMP-MAP="))) {
			t.Errorf("no finding in %q", b)
		}
	})
}
