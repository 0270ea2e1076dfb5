// Package portal serves medchain's web portal: the pages patients,
// practitioners, administrators and anyone else use in a browser. Its assets
// are built from web/ (esbuild) into dist/ and embedded in the binary, so a
// node serves them with no other server and no CDN (docs/portal.md).
//
// The portal holds keys and decrypts records in the browser only: the node
// serves the same static files to everyone, and every request for patient
// data that the pages make goes to the /v1 API signed by the browser's key.
//
// Contract:
//   - Handler serves GET and HEAD of the embedded files under Prefix
//     ("/portal/"; "/portal" redirects there), with a strict
//     Content-Security-Policy on every answer: scripts, styles, images and
//     connections from the node's own origin only, no inline code, no
//     framing, no plugins.
//   - Unknown paths answer 404; other methods 405.
//   - Assets are revalidated (ETag, Cache-Control: no-cache), so a node
//     upgrade is picked up at once.
package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where a node mounts the portal.
const Prefix = "/portal/"

// CSP is the Content-Security-Policy of every portal answer.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed dist
var dist embed.FS

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the embedded portal. Mount it at Prefix and at "/portal".
func Handler() http.Handler {
	return handlerFS(mustSub(dist, "dist"))
}

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

func handlerFS(files fs.FS) http.Handler {
	assets := map[string]*asset{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		assets[p] = &asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		panic("portal: reading embedded assets: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if name == "" {
			name = "index.html"
		}
		a := assets[name]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
