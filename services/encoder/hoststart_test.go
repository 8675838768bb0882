package encoder

import (
	"os"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
)

// Two encoders of one deployment on one machine see each other's start
// work, and only while it is fresh; another deployment's they do not see.
func TestHostStartWork(t *testing.T) {
	scope := "test-" + layout.NewVideoID() // a deployment of its own
	a, err := newHostStartWork(scope)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newHostStartWork(scope)
	other, _ := newHostStartWork(scope + "-other")
	t.Cleanup(func() { os.RemoveAll(a.dir); os.RemoveAll(other.dir) })

	a.update(true)
	b.update(false)
	other.update(false)
	if !b.othersBusy() || a.othersBusy() || other.othersBusy() {
		t.Fatalf("a busy: b sees others %v (want true), a %v, another deployment %v (want false)", b.othersBusy(), a.othersBusy(), other.othersBusy())
	}
	a.update(false)
	b.update(false)
	if b.othersBusy() {
		t.Fatal("b still sees start work after a's ended")
	}
	// A file left by a process that died stops counting, and goes.
	a.update(true)
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(a.self, old, old); err != nil {
		t.Fatal(err)
	}
	b.update(false)
	if _, err := os.Stat(a.self); b.othersBusy() || !os.IsNotExist(err) {
		t.Fatalf("a stale file: b sees others %v, file %v (want false, removed)", b.othersBusy(), err)
	}
	var none *hostStartWork
	if none.othersBusy() {
		t.Fatal("no hostStartWork: othersBusy must be false")
	}
}
