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
// # Telemetry
//
// The package instruments itself through the OpenTelemetry API (no SDK: the
// host chooses and installs one). An Index, a CapacityKeeper and Load report to their
// options' TracerProvider and MeterProvider (an Index passes its own to
// its matching index when IndexOptions.Matching leaves them nil), and a
// Catalog, which takes no options, to the global providers;
// nil means the OpenTelemetry global providers, which record nothing until
// the host installs an SDK; with nothing installed, or a no-op provider, an
// instrumented call costs an atomic load and a comparison more and allocates
// nothing more (BENCHMARKS.md). Failures are marked with error.type, the name
// of the refkit sentinel the error wraps (not_found, conflict, invalid,
// unavailable, ...), never with the error's text.
//
// Spans: "directory sync" per Index or Catalog sync, "directory capacity
// sync" per CapacityKeeper sync, "directory load" per Load, with
// refkit.network.id, refkit.directory.follower (index, catalog,
// capacity-keeper), the changes applied (refkit.directory.changes), the
// position reached (refkit.directory.position) and the adjustments written
// (refkit.directory.adjustments); a load's counts of records added, updated,
// unchanged and removed (refkit.directory.added.service, ...). The store's
// and the matching index's spans are their children. No record's text is an
// attribute.
//
//	metric                                  unit          kind       attributes
//	refkit.directory.sync.duration          s             histogram  refkit.directory.follower, error.type
//	refkit.directory.sync.changes           {change}      counter    refkit.directory.follower
//	refkit.directory.sync.lag               {change}      histogram  refkit.directory.follower
//	refkit.directory.capacity.adjustments   {adjustment}  counter    (none)
//	refkit.directory.load.records           {record}      counter    refkit.directory.record (organization, service), refkit.directory.change (added, updated, unchanged, removed, absent)
//
// refkit.directory.sync.lag is how far behind its feed's head a follower was
// when a sync began, in changes (the changes that sync applied): with Run, how
// many changes pile up between two wake-ups. For the capacity keeper, changes
// are referral feed events read.
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
