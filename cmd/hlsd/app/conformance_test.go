package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/conformance"
)

// assertConformant runs the hlsd check suite on a published video: every
// rule of RFC 8216 and Apple's authoring spec it knows, MUST and SHOULD,
// must hold on our output.
func assertConformant(t *testing.T, master string) conformance.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := conformance.Check(ctx, master, conformance.Options{Concurrency: 2})
	if err != nil {
		t.Fatalf("hlsd check %s: %v", master, err)
	}
	for _, f := range r.Findings {
		t.Errorf("hlsd check: %v", f)
	}
	if r.Segments == 0 {
		t.Errorf("hlsd check measured no segments of %s", master)
	}
	return r
}
