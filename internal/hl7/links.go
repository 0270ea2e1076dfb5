package hl7

import (
	"context"
	"errors"
	"net/http"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/x/links"
)

// NodeLinks resolves PID-3 identifiers through the organization's patient
// links (x/links) on a node: the identifier's MAC under the organization's
// link key r, looked up with a read signed by c's key (a member of the
// organization: GET /v1/orgs/{org}/links/{mac}).
func NodeLinks(ctx context.Context, c *client.Client, r *links.Resolver) LinkResolver {
	return LinkResolver{Find: func(system, value string) (string, error) {
		var v api.LinkView
		err := c.Get(ctx, "/v1/orgs/"+r.Org+"/links/"+r.MAC(system, value).String(), &v)
		var ae *client.Error
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			return "", nil
		case err != nil:
			return "", err
		}
		return v.Patient, nil
	}}
}
