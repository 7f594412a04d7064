// Package directory keeps a network's service directory in the store and
// everything built from it current, so a host writes the directory once.
//
//   - Load writes a directory, or the changed part of one, into a store
//     idempotently and says what it added, updated, left alone and removed.
//     The HSDS importer's Load (package interop/hsds) is Load on an imported
//     dataset.
//   - Index keeps a matching.Index current with the store: built from the
//     store's records, then following the network's directory feed
//     (storage.DirectoryFeed), in this process or in any other on the same
//     database, applying capacity-only changes through the matching index's
//     cheap capacity path.
//   - Catalog keeps the whole directory in memory, current the same way, for
//     readers that page, count and search it (the HSDS API serves from one).
//   - CapacityKeeper takes a place at a service when a referral is accepted
//     and frees it when the referral closes, by following the referral feed
//     and writing to the store, each event once; the change reaches every
//     Index through the directory feed.
//
// A typical host:
//
//	report, err := directory.Load(ctx, store, network, records, directory.LoadOptions{})
//	ix, err := directory.NewIndex(ctx, store, network, directory.IndexOptions{})
//	go ix.Run(ctx)                                   // follows every writer
//	keeper, err := directory.NewCapacityKeeper(store, network, directory.KeeperOptions{})
//	go keeper.Run(ctx)                               // accepts and closures
//	res, err := ix.Match(ctx, request)
//
// # Following the feed
//
// A follower (Index, Catalog) reads the directory feed's head, then the
// records, and from then on applies the changes after the head in order, a
// page at a time, reading again the records each page names. Run waits for
// the store to say the feed moved (DirectoryChanged: at once for a write
// through the same store, within the backend's stated delay for another
// process's: SQLite's poll interval, PostgreSQL's NOTIFY); Sync applies what
// is there now. Wait blocks until a position is applied. Nothing is missed: a
// change committed after the head was read has a position above it, and a
// change applied to a record the follower already read again changes
// nothing.
//
// # Confidential locations
//
// Index sets matching.Options.Disclose to the organizations' own rule
// (referral.Organization.Discloses) with their ConfidentialAccess grants as
// the store holds them now, so a matching request's Viewer sees a
// confidential location exactly only if its organization discloses to them.
// Load never makes public what the store keeps confidential (see Load).
//
// # Dependencies
//
// Outside the standard library, directory imports only the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace);
// through matching and referral it also links github.com/expr-lang/expr,
// github.com/uber/h3-go/v4 (cgo) and github.com/google/uuid. It runs on the
// store the caller opens, so it links no database driver, and no
// OpenTelemetry SDK.
package directory
