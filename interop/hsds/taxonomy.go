package hsds

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/refkit/refkit/referral"
)

// TaxonomyMap maps the taxonomy terms of HSDS attributes to SDOH domains. Terms
// are matched by taxonomy and by term code or name, ignoring case, spaces and
// punctuation, so "Open Eligibility"/"Food Pantry" matches
// "openeligibility"/"food pantry". It is immutable and safe for concurrent use.
type TaxonomyMap struct {
	terms map[termKey][]referral.Domain
}

type termKey struct{ taxonomy, term string }

// TaxonomyEntry maps one term of one taxonomy to the domains it addresses.
type TaxonomyEntry struct {
	// Taxonomy names the taxonomy as HSDS taxonomy_term.taxonomy gives it.
	Taxonomy string
	// Term is the term's code or name.
	Term    string
	Domains []referral.Domain
}

// NewTaxonomyMap builds a map from entries. Entries for the same term add up.
// Every domain must be registered (see referral.RegisterDomain).
func NewTaxonomyMap(entries []TaxonomyEntry) (*TaxonomyMap, error) {
	m := &TaxonomyMap{terms: make(map[termKey][]referral.Domain, len(entries))}
	for i, e := range entries {
		field := "entries[" + strconv.Itoa(i) + "]"
		k := termKey{fold(e.Taxonomy), fold(e.Term)}
		if k.taxonomy == "" {
			return nil, referral.Invalid(field+".taxonomy", "is required")
		}
		if k.term == "" {
			return nil, referral.Invalid(field+".term", "is required")
		}
		if len(e.Domains) == 0 {
			return nil, referral.Invalid(field+".domains", "needs at least one domain")
		}
		for j, d := range e.Domains {
			if d.Validate() != nil {
				return nil, referral.Invalid(field+".domains["+strconv.Itoa(j)+"]", "is not a registered domain code")
			}
			m.terms[k] = appendDomain(m.terms[k], d)
		}
	}
	return m, nil
}

// ReadTaxonomyMap reads a map from CSV with the header taxonomy,term,domain: one
// row per term and domain. Blank lines and lines starting with # are skipped.
func ReadTaxonomyMap(r io.Reader) (*TaxonomyMap, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 3
	header, err := cr.Read()
	if err != nil {
		return nil, csvError("taxonomy map", err)
	}
	if strings.TrimPrefix(header[0], "\ufeff") != "taxonomy" || header[1] != "term" || header[2] != "domain" {
		return nil, referral.Invalid("taxonomy map", "must have the header taxonomy,term,domain")
	}
	var entries []TaxonomyEntry
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError("taxonomy map", err)
		}
		entries = append(entries, TaxonomyEntry{Taxonomy: rec[0], Term: rec[1], Domains: []referral.Domain{referral.Domain(strings.TrimSpace(rec[2]))}})
	}
	return NewTaxonomyMap(entries)
}

//go:embed openeligibility.csv
var openEligibilityCSV string

var openEligibility = sync.OnceValue(func() *TaxonomyMap {
	m, err := ReadTaxonomyMap(strings.NewReader(openEligibilityCSV))
	if err != nil {
		// The file is embedded and covered by tests: failing here is a build defect.
		panic("hsds: embedded Open Eligibility map: " + err.Error())
	}
	return m
})

// OpenEligibility returns the default map: the human service terms of the Open
// Eligibility taxonomy (taxonomy "Open Eligibility") mapped to SDOH domains. Terms
// with no social-needs meaning (dental care, say) are left out; services tagged
// only with them are reported.
func OpenEligibility() *TaxonomyMap { return openEligibility() }

// Domains returns the domains of a term, looked up by code and then by name; nil
// when the map has neither. The caller owns the slice.
func (m *TaxonomyMap) Domains(taxonomy, code, name string) []referral.Domain {
	return slices.Clone(m.lookup(taxonomy, code, name))
}

func (m *TaxonomyMap) lookup(taxonomy, code, name string) []referral.Domain {
	t := fold(taxonomy)
	if t == "" {
		return nil
	}
	if code != "" {
		if d := m.terms[termKey{t, fold(code)}]; d != nil {
			return d
		}
	}
	if name != "" {
		return m.terms[termKey{t, fold(name)}]
	}
	return nil
}

// fold keeps only lower-cased letters and digits, so spelling variants of a
// taxonomy or term name compare equal.
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func appendDomain(ds []referral.Domain, d referral.Domain) []referral.Domain {
	for _, x := range ds {
		if x == d {
			return ds
		}
	}
	return append(ds, d)
}
