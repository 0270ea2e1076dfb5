package portal

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func TestEmbeddedAssetsAreServed(t *testing.T) {
	h := Handler()
	for path, ctype := range map[string]string{
		"/portal/":           "text/html",
		"/portal/index.html": "text/html",
		"/portal/app.js":     "javascript",
		"/portal/style.css":  "text/css",
	} {
		r := get(t, h, http.MethodGet, path)
		body, _ := io.ReadAll(r.Body)
		if r.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: status %d, %d bytes", path, r.StatusCode, len(body))
		}
		if !strings.Contains(r.Header.Get("Content-Type"), ctype) {
			t.Errorf("%s: Content-Type %q, want %s", path, r.Header.Get("Content-Type"), ctype)
		}
		if r.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("%s: CSP %q", path, r.Header.Get("Content-Security-Policy"))
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: missing hardening headers: %v", path, r.Header)
		}
	}
	// The page loads only its own script and style: nothing from another origin.
	r := get(t, h, http.MethodGet, "/portal/")
	page, _ := io.ReadAll(r.Body)
	for _, bad := range []string{"http://", "https://", "<script>", "style="} {
		if strings.Contains(string(page), bad) {
			t.Errorf("index.html contains %q: every asset must be embedded, no inline code", bad)
		}
	}
}

func TestCSPIsStrict(t *testing.T) {
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(CSP, bad) {
			t.Errorf("CSP allows %q", bad)
		}
	}
}

func TestRoutingAndMethods(t *testing.T) {
	h := handlerFS(fstest.MapFS{"index.html": {Data: []byte("<p>hi</p>")}, "app.js": {Data: []byte("1")}})
	if r := get(t, h, http.MethodGet, "/portal"); r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/portal/" {
		t.Errorf("/portal: %d %q, want a redirect to /portal/", r.StatusCode, r.Header.Get("Location"))
	}
	if r := get(t, h, http.MethodGet, "/portal/nope.js"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: %d, want 404", r.StatusCode)
	}
	if r := get(t, h, http.MethodGet, "/portal/../go.mod"); r.StatusCode != http.StatusNotFound {
		t.Errorf("path outside the assets: %d, want 404", r.StatusCode)
	}
	r := get(t, h, http.MethodPost, "/portal/")
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
	if r.Header.Get("Content-Security-Policy") != CSP {
		t.Error("an error answer lacks the CSP")
	}
	// Revalidation: the ETag answers 304.
	first := get(t, h, http.MethodGet, "/portal/app.js")
	etag := first.Header.Get("ETag")
	if etag == "" || first.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, first.Header.Get("Cache-Control"))
	}
	if r := get(t, h, http.MethodGet, "/portal/app.js", "If-None-Match", etag); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", r.StatusCode)
	}
	if r := get(t, h, http.MethodHead, "/portal/"); r.StatusCode != 200 {
		t.Errorf("HEAD: %d", r.StatusCode)
	}
}
