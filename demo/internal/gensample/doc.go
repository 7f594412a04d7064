// Command gensample writes the sample directory that `refkit demo` embeds: a
// fictional referral network around Columbus, Ohio, with about 110 organizations
// and 300 services across the SDOH domains, with locations, service areas,
// eligibility rules, languages, capacity and opening hours.
//
//	go run ./demo/internal/gensample -out demo/sample/directory.json
//
// The output is byte-identical on every run: content comes from a seeded
// math/rand/v2 source, ids from referral.NewIDGenerator with a fixed clock and a
// seeded entropy reader. Every organization name is invented; street names and
// zip codes are real so that addresses look familiar, house numbers are not.
//
// The data lives in tables (places, organization kinds with their service
// templates, rules) in data.go; generate.go turns them into records.
package main
