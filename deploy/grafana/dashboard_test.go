// Package grafana holds the Grafana dashboard for hlsd's metrics; its test
// keeps the dashboard in step with the metrics the code exports.
package grafana

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/metrics"
)

func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("hlsd-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.RegisterQueueDepth("encode", func(context.Context) (uint64, error) { return 0, nil })
	// Vector families appear once a label set is used: use each once.
	m.ObserveSpeed(1)
	m.ObserveJob("encode", "succeeded", time.Second, true)
	m.Instrument("all", http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			known[f.GetName()+suffix] = true
		}
	}
	names := regexp.MustCompile(`hlsd_[a-z_]+`)
	if len(d.Panels) == 0 {
		t.Fatal("dashboard has no panels")
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, n := range names.FindAllString(tg.Expr, -1) {
				if !known[n] && !strings.HasSuffix(n, "_") {
					t.Errorf("panel %q uses %s, which hlsd does not export", p.Title, n)
				}
			}
		}
	}
}
