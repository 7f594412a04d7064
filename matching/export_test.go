package matching

import "context"

// Scan is the reference path for the external tests: it answers what Match
// answers by examining every service.
func (s *Snapshot) Scan(ctx context.Context, req Request) (Result, error) { return s.scan(ctx, req) }
