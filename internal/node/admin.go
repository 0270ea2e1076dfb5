package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/medchain/medchain/internal/config"
)

// AdminSocket is the Unix socket, under the data directory, on which a
// running node serves operations that need its open databases (a backup).
// Only the home's owner can connect (mode 0600): the socket grants what
// reading the home's files grants.
func AdminSocket(home string) string { return filepath.Join(config.DataDir(home), "admin.sock") }

// serveAdmin listens on AdminSocket. A node that cannot (a path too long
// for a socket) logs it and runs without: a backup then needs it stopped.
func (n *Node) serveAdmin() {
	p := AdminSocket(n.home)
	// The state database's lock makes this the only node of the home: a
	// socket file left is stale (a killed node's).
	_ = os.Remove(p)
	ln, err := net.Listen("unix", p)
	if err != nil {
		n.log.Warn("no admin socket: back up this node while stopped", "path", p, "err", err)
		return
	}
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		n.log.Warn("no admin socket", "err", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Header().Set("Trailer", "X-Backup-Error")
		_, err := n.Backup(w, BackupOptions{IncludeKeys: r.URL.Query().Get("keys") == "1"})
		if err != nil {
			n.log.Error("backup failed", "err", err)
			w.Header().Set("X-Backup-Error", err.Error())
			return
		}
		n.log.Info("backup written", "keys", r.URL.Query().Get("keys") == "1")
	})
	n.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := n.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("admin socket stopped", "err", err)
		}
	}()
}

// BackupRunning asks the node running on home for a backup, through its
// admin socket, and writes it to w. ok is false when no node serves the
// socket (the node is stopped: use BackupStopped).
func BackupRunning(ctx context.Context, home string, w io.Writer, includeKeys bool) (ok bool, err error) {
	p := AdminSocket(home)
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", p)
	}}}
	url := "http://medchain/backup"
	if includeKeys {
		url += "?keys=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := c.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return false, nil
		}
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return true, fmt.Errorf("node: %s", resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return true, err
	}
	if e := resp.Trailer.Get("X-Backup-Error"); e != "" {
		return true, errors.New("node: " + e)
	}
	return true, nil
}
