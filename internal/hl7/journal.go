package hl7

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Journal remembers which messages were applied, so that a message the
// sender retransmits (it lost the ACK, or timed out) is acknowledged again
// and not applied twice. It is an append-only file of JSON lines, each
// written and synced before the step it records is taken; a torn last line
// (a crash while writing) is ignored. What it holds is message keys
// (sending application, facility, control id), digests and ACKs: no
// patient data.
type Journal struct {
	mu      sync.Mutex
	f       *os.File
	entries map[string]JournalEntry
}

// Journal states.
const (
	StatePending = "pending" // about to be applied: a crash here leaves it unknown whether it was
	StateDone    = "done"    // applied
	StateAborted = "aborted" // not applied (a NAK): a resend is processed afresh
)

// JournalEntry is the latest record of one message key.
type JournalEntry struct {
	Key    string `json:"k"`
	State  string `json:"s"`
	Digest string `json:"d"`           // of the message's content after MSH
	Marker string `json:"m,omitempty"` // an identifier that the write carries, to find it after a crash (pending)
}

// OpenJournal opens (or creates) the journal at path and loads it.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	j := &Journal{f: f, entries: map[string]JournalEntry{}}
	r := bufio.NewReader(f)
	var good int64
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a last line without its newline is torn: dropped below
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		var e JournalEntry
		if json.Unmarshal(bytes.TrimSpace(line), &e) != nil || e.Key == "" {
			f.Close()
			return nil, fmt.Errorf("journal %s: damaged line at byte %d", path, good)
		}
		j.entries[e.Key] = e
		good += int64(len(line))
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// Lookup returns the latest entry of a key.
func (j *Journal) Lookup(key string) (JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[key]
	return e, ok
}

// Put records an entry durably.
func (j *Journal) Put(e JournalEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.entries[e.Key] = e
	return nil
}

// Len is the number of message keys known.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.entries)
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }
