package blob

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// ReadResponse reads a node's answer to a blob request: the body of a 200
// whose SHA-256 is h and whose size is at most max bytes. A blob fetched from
// anywhere is only used through it, so a node never passes on bytes that do
// not match the hash on chain.
func ReadResponse(resp *http.Response, h Hash, max int64) ([]byte, error) {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	if Sum(data) != h {
		return nil, ErrHashMismatch
	}
	return data, nil
}
