package hl7

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// FHIRSink writes to a medchain node's FHIR interface with a bearer token
// (of the organization's integration account, delegated with
// user/*.read user/*.write scopes).
type FHIRSink struct {
	Base  string // ".../fhir"
	Token func() string
	HTTP  *http.Client
}

var _ Sink = (*FHIRSink)(nil)

func (s *FHIRSink) do(ctx context.Context, method, u string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token())
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	hc := s.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &SinkError{Status: 0, Text: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &SinkError{Status: resp.StatusCode, Text: err.Error()}
	}
	if resp.StatusCode/100 != 2 {
		return nil, outcomeError(resp.StatusCode, b)
	}
	return b, nil
}

// outcomeError reads an OperationOutcome answer.
func outcomeError(status int, b []byte) *SinkError {
	e := &SinkError{Status: status, Definite: status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests}
	var oo struct {
		Issue []struct {
			Diagnostics string `json:"diagnostics"`
			Details     struct {
				Coding []struct {
					Code string `json:"code"`
				} `json:"coding"`
			} `json:"details"`
		} `json:"issue"`
	}
	if json.Unmarshal(b, &oo) == nil && len(oo.Issue) > 0 {
		e.Text = oo.Issue[0].Diagnostics
		if len(oo.Issue[0].Details.Coding) > 0 {
			e.Code = oo.Issue[0].Details.Coding[0].Code
		}
		return e
	}
	e.Text = strings.TrimSpace(trunc(string(b), 200))
	return e
}

// Transaction implements Sink.
func (s *FHIRSink) Transaction(ctx context.Context, bundle map[string]any) error {
	b, err := json.Marshal(bundle)
	if err != nil {
		return err
	}
	_, err = s.do(ctx, http.MethodPost, strings.TrimRight(s.Base, "/"), b)
	return err
}

// Find implements Sink.
func (s *FHIRSink) Find(ctx context.Context, typ, identifier string) (string, error) {
	q := url.Values{"identifier": {identifier}, "_count": {"1"}}
	b, err := s.do(ctx, http.MethodGet, strings.TrimRight(s.Base, "/")+"/"+typ+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		return "", fmt.Errorf("search %s: %w", typ, err)
	}
	if len(bundle.Entry) == 0 {
		return "", nil
	}
	return bundle.Entry[0].Resource.ID, nil
}
