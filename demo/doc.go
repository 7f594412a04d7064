// Package demo plays a whole referral network end to end, for people meeting
// refkit for the first time and for tests that want realistic data.
//
// The bundled sample (LoadSample) is a fictional network around Columbus,
// Ohio: a few hundred services across the SDOH domains, with eligibility
// rules, languages, capacity, opening hours and service areas, plus a family
// health center and six people it screens. Every name, address and phone
// number in it is invented.
//
// Run loads the sample into any storage.Store and plays it on a virtual clock,
// writing the directory to the store only: a directory.Index follows it and a
// directory.CapacityKeeper takes and frees places as referrals are accepted
// and completed:
// screening with AHC HRSN and PHQ-9, matching every need within RadiusM,
// referrals sent with consent, the receiving organizations acknowledging,
// accepting, declining with a reason (after which the need is redirected to
// the next match), completing with an outcome or letting a referral expire by
// the deadline sweep. It returns a Report, written for people by WriteText and
// for machines by WriteJSON. `refkit demo` runs it on SQLite; examples/postgres
// runs it on PostgreSQL.
//
//	store := memory.New()
//	report, err := demo.Run(ctx, store, demo.Options{})
//	if err != nil { ... }
//	report.WriteText(os.Stdout)
//
// # Dependencies
//
// Outside the standard library, demo imports nothing itself; through the refkit
// packages it plays it links github.com/expr-lang/expr,
// github.com/uber/h3-go/v4 (cgo), github.com/qmuntal/stateless,
// github.com/google/uuid and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace). It
// runs on the store the caller opens, so it links no database driver.
package demo
