package storage

import (
	"context"
	"fmt"

	"github.com/refkit/refkit/referral"
)

// AllServices reads every page of a network's services, in id order: what a
// host needs to build a matching index from its store.
func AllServices(ctx context.Context, d Directory, network referral.ID) ([]referral.Service, error) {
	var all []referral.Service
	page := Page{Limit: MaxLimit}
	for {
		services, next, err := d.ListServices(ctx, network, page)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		all = append(all, services...)
		if next.IsZero() {
			return all, nil
		}
		page.After = next
	}
}
