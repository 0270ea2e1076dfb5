package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/portal"
)

// The portal is served beside the API, with its CSP; the API's own routes
// and its JSON 404 are unchanged.
func TestPortalMounted(t *testing.T) {
	s := api.New(newFake(t), api.Options{CommitWait: time.Second, Registry: prometheus.NewRegistry(), Gatherer: prometheus.NewRegistry(), Portal: portal.Handler()})
	for path, want := range map[string]int{"/portal/": 200, "/portal/app.js": 200, "/portal": 301, "/v1/status": 200, "/nope": 404} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != want {
			t.Errorf("GET %s: %d, want %d", path, w.Code, want)
		}
		if csp := w.Header().Get("Content-Security-Policy"); (path == "/portal/" || path == "/portal/app.js") && csp != portal.CSP {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
}
