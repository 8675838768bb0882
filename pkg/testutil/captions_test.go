package testutil

import (
	"strings"
	"testing"
)

// CaptionedH264's captions are what ffmpeg reads back, popping on when
// asked (at the end-of-caption code, seven frames after popOn).
func TestCaptionedH264(t *testing.T) {
	t.Parallel()
	got := CaptionText(t, CaptionedH264(t, "cc.mp4", 3, "HELLO", 1))
	if !strings.Contains(got, "HELLO") || !strings.Contains(got, "00:00:01,233 -->") {
		t.Fatalf("captions read back:\n%s\nwant HELLO from 1.233 s", got)
	}
}
