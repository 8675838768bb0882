package gateway

import "testing"

func TestCleanFilename(t *testing.T) {
	for in, want := range map[string]string{
		"../../a\x00b\nc.mp4":  "abc.mp4",
		`C:\Users\me\clip.mov`: "clip.mov",
		"plain.mp4":            "plain.mp4",
	} {
		if got := CleanFilename(in); got != want {
			t.Errorf("CleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
