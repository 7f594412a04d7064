package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/matching/synth"
	"github.com/refkit/refkit/matching/synth/internal/rulemix"
	"github.com/refkit/refkit/referral"
)

// sitesTable is the table LoadPostGIS replaces: one row per (service, location),
// plus one per (service, area value) for services with service areas.
const sitesTable = "refkit_synth_sites"

// Area rows rank after a location within the radius, in the order the engine
// offers areas: zip, county, state, (polygon,) virtual. The first wins.
var areaPriority = map[referral.AreaKind]int{
	referral.AreaZip: 1, referral.AreaCounty: 2, referral.AreaState: 3, referral.AreaVirtual: 5,
}

// PostGIS is a synthetic directory loaded into a PostGIS database, queried with
// the predicates the matching engine applies, written in SQL. It holds one
// connection and answers requests sequentially with one prepared statement. Not
// safe for concurrent use.
type PostGIS struct {
	conn *pgx.Conn
	// sphere is the radius of PostGIS's sphere (the WGS 84 mean radius); the
	// engine measures on matching.EarthRadiusM, so radii are scaled to it on the
	// way in and distances on the way out, making both test the same central angle.
	sphere     float64
	guidelines matching.Guidelines
	params     []string
}

// Eligible is one service PostGIS found eligible for a request: at its nearest
// location within the radius, or, with no location within it, through the
// service area Area.
type Eligible struct {
	Service  referral.ID
	Location referral.ID
	// DistanceM is the great-circle distance to Location on the engine's sphere;
	// 0 for an area match.
	DistanceM float64
	Area      referral.AreaKind
}

// LoadPostGIS connects to the PostgreSQL database at url (PostGIS installed),
// replaces the table refkit_synth_sites with dir, indexes it (GiST on the
// geography, clustered on it; B-tree on area kind and value) and prepares the
// eligibility query. Services must use the generator's rule texts and domains.
func LoadPostGIS(ctx context.Context, url string, dir []referral.Service) (*PostGIS, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("harness: connect to PostGIS: %w", err)
	}
	p := &PostGIS{conn: conn, guidelines: matching.DefaultGuidelines()}
	if err := p.load(ctx, dir); err != nil {
		_ = conn.Close(ctx)
		return nil, err
	}
	return p, nil
}

// Close closes the connection.
func (p *PostGIS) Close(ctx context.Context) error { return p.conn.Close(ctx) }

func (p *PostGIS) load(ctx context.Context, dir []referral.Service) error {
	rows, err := siteRows(dir)
	if err != nil {
		return err
	}
	// JIT compilation costs milliseconds and never pays off on a query this
	// short; a tuned OLTP server has it off, and the comparison should be fair.
	if _, err := p.conn.Exec(ctx, "SET jit = off"); err != nil {
		return fmt.Errorf("harness: PostGIS: %w", err)
	}
	if err := p.conn.QueryRow(ctx,
		"SELECT ST_Distance('POINT(0 0)'::geography, 'POINT(0 1)'::geography, false) * 180 / pi()").Scan(&p.sphere); err != nil {
		return fmt.Errorf("harness: PostGIS sphere radius: %w", err)
	}
	columns := []string{"service_id", "location_id", "loc_ord", "area_kind", "area_value", "prio", "lat", "lon",
		"active", "domains", "cap_available", "cap_waitlist", "min_age", "max_age", "rule", "rule_arg"}
	for _, stmt := range []string{
		"DROP TABLE IF EXISTS " + sitesTable + "_load",
		"DROP TABLE IF EXISTS " + sitesTable,
		`CREATE UNLOGGED TABLE ` + sitesTable + `_load (
			service_id uuid NOT NULL, location_id uuid, loc_ord int NOT NULL,
			area_kind text NOT NULL, area_value text, prio int NOT NULL,
			lat float8, lon float8, active bool NOT NULL, domains int NOT NULL,
			cap_available int, cap_waitlist int, min_age int NOT NULL, max_age int NOT NULL,
			rule int NOT NULL, rule_arg text NOT NULL)`,
	} {
		if _, err := p.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("harness: PostGIS load: %w", err)
		}
	}
	if _, err := p.conn.CopyFrom(ctx, pgx.Identifier{sitesTable + "_load"}, columns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("harness: PostGIS copy: %w", err)
	}
	for _, stmt := range []string{
		`CREATE TABLE ` + sitesTable + ` AS SELECT *,
			CASE WHEN lat IS NULL THEN NULL
			ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography(Point, 4326) END AS geog
			FROM ` + sitesTable + `_load`,
		"DROP TABLE " + sitesTable + "_load",
		"CREATE INDEX " + sitesTable + "_geog ON " + sitesTable + " USING gist (geog)",
		"CREATE INDEX " + sitesTable + "_area ON " + sitesTable + " (area_kind, area_value)",
		// Clustering on the GiST index gives PostGIS the locality the H3 index has.
		"CLUSTER " + sitesTable + " USING " + sitesTable + "_geog",
		"ANALYZE " + sitesTable,
	} {
		if _, err := p.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("harness: PostGIS load: %w", err)
		}
	}
	query, params, err := eligibleQuery()
	if err != nil {
		return err
	}
	p.params = params
	if _, err := p.conn.Prepare(ctx, "refkit_eligible", query); err != nil {
		return fmt.Errorf("harness: PostGIS prepare: %w", err)
	}
	if _, err := p.conn.Prepare(ctx, "refkit_eligible_count", "SELECT count(*) FROM ("+query+") AS eligible"); err != nil {
		return fmt.Errorf("harness: PostGIS prepare: %w", err)
	}
	return nil
}

// siteRows flattens services into table rows: one per location, one per area value.
func siteRows(dir []referral.Service) ([][]any, error) {
	bits := map[referral.Domain]int{}
	for i, d := range synth.Domains {
		bits[d] = i
	}
	var rows [][]any
	for i, s := range dir {
		ref, ok := rulemix.Lookup(s.Eligibility)
		if !ok {
			return nil, referral.Invalid("services["+strconv.Itoa(i)+"].eligibility", "is not one of the generator's rule templates")
		}
		mask := int32(0)
		for _, d := range s.Domains {
			b, ok := bits[d]
			if !ok {
				return nil, referral.Invalid("services["+strconv.Itoa(i)+"].domains", "uses a domain the generator does not")
			}
			mask |= 1 << b
		}
		var avail, wait any
		if s.Capacity != nil {
			avail, wait = int32(s.Capacity.Available), int32(s.Capacity.Waitlist)
		}
		row := func(loc any, ord int, kind, value any, prio int, lat, lon any) []any {
			return []any{[16]byte(s.ID), loc, int32(ord), kind, value, int32(prio), lat, lon,
				s.Status == referral.ServiceActive, mask, avail, wait,
				int32(s.MinimumAge), int32(s.MaximumAge), int32(ref.Template), ref.Arg}
		}
		for j, l := range s.Locations {
			rows = append(rows, row([16]byte(l.ID), j, "point", nil, 0, l.Latitude, l.Longitude))
		}
		for _, a := range s.ServiceAreas {
			prio, ok := areaPriority[a.Kind]
			if !ok {
				return nil, referral.Invalid("services["+strconv.Itoa(i)+"].service_areas", "kind "+string(a.Kind)+" is not loaded into PostGIS")
			}
			if a.Kind == referral.AreaVirtual {
				rows = append(rows, row(nil, 0, string(a.Kind), nil, prio, nil, nil))
				continue
			}
			for _, v := range a.Values {
				if a.Kind != referral.AreaState {
					v = normalize(v)
				}
				rows = append(rows, row(nil, 0, string(a.Kind), v, prio, nil, nil))
			}
		}
	}
	return rows, nil
}

// normalize is the engine's area-value normalization: "Alameda " matches "alameda".
func normalize(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// eligiblePredicate is every check the engine makes on a candidate, in SQL:
// active, shares a requested domain, capacity (when the request excludes full
// services), HSDS age limits, and the eligibility rule.
const eligiblePredicate = `active
	AND domains & @mask <> 0
	AND (NOT @exclude_full OR cap_available IS NULL OR cap_available > 0 OR cap_waitlist > 0)
	AND ((min_age = 0 AND max_age = 0)
		OR (@age IS NOT NULL AND @age >= min_age AND (max_age = 0 OR @age <= max_age)))
	AND `

// eligibleQuery returns the eligibility query with positional parameters, and
// the fact each parameter binds. Point rows are found with ST_DWithin on the
// sphere through the GiST index, area rows through the B-tree; per service the
// nearest location within the radius wins (ties by location order), then areas
// by priority.
func eligibleQuery() (string, []string, error) {
	pred := eligiblePredicate + sqlRule()
	center := "ST_SetSRID(ST_MakePoint(@lon, @lat), 4326)::geography"
	q := `WITH cand AS (
	SELECT service_id, location_id, loc_ord, area_kind, prio, ST_Distance(geog, ` + center + `, false) AS d
	FROM ` + sitesTable + `
	WHERE ST_DWithin(geog, ` + center + `, @radius, false) AND ` + pred + `
	UNION ALL
	SELECT service_id, NULL::uuid, 0, area_kind, prio, NULL::float8
	FROM ` + sitesTable + `
	WHERE ((@area_zip <> '' AND area_kind = 'zip' AND area_value = @area_zip)
		OR (@area_county <> '' AND area_kind = 'county' AND area_value = @area_county)
		OR (@state <> '' AND area_kind = 'state' AND area_value = @state)
		OR area_kind = 'virtual') AND ` + pred + `
)
SELECT DISTINCT ON (service_id) service_id, location_id, area_kind, d
FROM cand ORDER BY service_id, prio, d, loc_ord`
	var params []string
	var bad error
	out := factRef.ReplaceAllStringFunc(q, func(ref string) string {
		name := ref[1:]
		typ, ok := paramTypes[name]
		if !ok {
			bad = fmt.Errorf("harness: SQL names unknown fact %s", ref)
			return ref
		}
		i := slices.Index(params, name)
		if i < 0 {
			params = append(params, name)
			i = len(params) - 1
		}
		return "$" + strconv.Itoa(i+1) + "::" + typ
	})
	return out, params, bad
}

// paramTypes are the SQL types of the query's parameters: the request's facts,
// named as in the rule vocabulary, and what the query derives from the request.
var paramTypes = map[string]string{
	"age": "int4", "household_size": "int4", "income_annual": "float8", "fpl_percent": "float8",
	"zip": "text", "county": "text", "state": "text", "languages": "text[]", "insurance": "text",
	"veteran": "bool", "pregnant": "bool", "disabled": "bool", "needs": "text[]", "urgency": "text",
	"lat": "float8", "lon": "float8", "radius": "float8", "mask": "int4", "exclude_full": "bool",
	"area_zip": "text", "area_county": "text",
}

// facts derives the query's parameters from a request, as the engine derives its
// rule environment: unknown numeric facts are nil (SQL NULL).
func (p *PostGIS) facts(req matching.Request) (map[string]any, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if req.AsOf.IsZero() {
		return nil, referral.Invalid("as_of", "is required for the PostGIS comparison")
	}
	near := req.Near
	if near == nil {
		near = req.Person.Location
	}
	per := req.Person
	f := map[string]any{
		"zip": per.Zip, "county": per.County, "state": per.State, "insurance": per.Insurance,
		"veteran": per.Veteran, "pregnant": per.Pregnant, "disabled": per.Disabled,
		"lat": near.Latitude, "lon": near.Longitude, "radius": req.RadiusM * p.sphere / matching.EarthRadiusM,
		"exclude_full": req.Full == matching.Exclude,
		"area_zip":     normalize(per.Zip), "area_county": normalize(per.County),
		"age": nil, "household_size": nil, "income_annual": nil, "fpl_percent": nil,
	}
	if !per.BirthDate.IsZero() {
		age := per.BirthDate.AgeAt(req.AsOf)
		if age < 0 {
			return nil, referral.Invalid("person.birth_date", "must not be after as_of")
		}
		f["age"] = int32(age)
	}
	if per.HouseholdSize > 0 {
		f["household_size"] = int32(per.HouseholdSize)
	}
	if per.IncomeAnnual != nil {
		f["income_annual"] = *per.IncomeAnnual
		if fpl, ok := p.guidelines.FPLPercent(*per.IncomeAnnual, per.HouseholdSize, per.State, req.AsOf); ok {
			f["fpl_percent"] = fpl
		}
	}
	langs := make([]string, len(per.Languages))
	for i, l := range per.Languages {
		langs[i] = strings.ToLower(l)
	}
	f["languages"] = langs
	var needs []string
	mask, best := int32(0), -1
	for _, n := range req.Needs {
		if !slices.Contains(needs, string(n.Domain)) {
			needs = append(needs, string(n.Domain))
		}
		if i := slices.Index(synth.Domains, n.Domain); i >= 0 {
			mask |= 1 << i
		}
		if r := n.Urgency.Rank(); r > best {
			best = r
			f["urgency"] = string(n.Urgency)
		}
	}
	f["needs"], f["mask"] = needs, mask
	return f, nil
}

// args binds the query's parameters for req.
func (p *PostGIS) args(req matching.Request) ([]any, error) {
	f, err := p.facts(req)
	if err != nil {
		return nil, err
	}
	args := make([]any, len(p.params))
	for i, name := range p.params {
		args[i] = f[name]
	}
	return args, nil
}

// Count returns how many services are eligible for req: the query Eligible runs,
// counted on the server, so no rows cross the connection.
func (p *PostGIS) Count(ctx context.Context, req matching.Request) (int, error) {
	args, err := p.args(req)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := p.conn.QueryRow(ctx, "refkit_eligible_count", args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("harness: PostGIS count: %w", err)
	}
	return int(n), nil
}

// Eligible returns every service eligible for req, ordered by service id: the
// engine's matches before ranking and the limit. Request.Explain, Limit and
// Order do not change the answer.
func (p *PostGIS) Eligible(ctx context.Context, req matching.Request) ([]Eligible, error) {
	args, err := p.args(req)
	if err != nil {
		return nil, err
	}
	rows, err := p.conn.Query(ctx, "refkit_eligible", args...)
	if err != nil {
		return nil, fmt.Errorf("harness: PostGIS query: %w", err)
	}
	defer rows.Close()
	var out []Eligible
	for rows.Next() {
		var svc, loc pgtype.UUID
		var kind string
		var d *float64
		if err := rows.Scan(&svc, &loc, &kind, &d); err != nil {
			return nil, fmt.Errorf("harness: PostGIS row: %w", err)
		}
		e := Eligible{Service: referral.ID(svc.Bytes)}
		if loc.Valid {
			e.Location = referral.ID(loc.Bytes)
			e.DistanceM = *d * matching.EarthRadiusM / p.sphere
		} else {
			e.Area = referral.AreaKind(kind)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("harness: PostGIS query: %w", err)
	}
	return out, nil
}

// errDiffer is the error compareEligible wraps when PostGIS and the index differ.
var errDiffer = errors.New("PostGIS and index differ")

// distanceTolerance is how far a PostGIS distance may be from the index's, which
// the index reports rounded to 0.1 m.
const distanceTolerance = 0.05 + 1e-6

// compareEligible checks that all, the index's complete answer to a request
// (Limit at least the number of matches), holds exactly the services in pg, each
// at the same location and distance, or through the same kind of area.
func compareEligible(all matching.Result, pg []Eligible) error {
	byService := make(map[referral.ID]Eligible, len(pg))
	for _, e := range pg {
		byService[e.Service] = e
	}
	for _, m := range all.Matches {
		e, ok := byService[m.Service]
		switch {
		case !ok:
			return fmt.Errorf("%w: service %s matched by the index only", errDiffer, m.Service)
		case e.Location != m.Location || e.Area != m.Area:
			return fmt.Errorf("%w: service %s matched at location %s (area %q) by the index, %s (area %q) by PostGIS",
				errDiffer, m.Service, m.Location, m.Area, e.Location, e.Area)
		case m.DistanceM != nil && math.Abs(*m.DistanceM-e.DistanceM) > distanceTolerance:
			return fmt.Errorf("%w: service %s at %.1f m by the index, %.3f m by PostGIS", errDiffer, m.Service, *m.DistanceM, e.DistanceM)
		}
		delete(byService, m.Service)
	}
	for _, e := range pg {
		if _, left := byService[e.Service]; left {
			return fmt.Errorf("%w: service %s matched by PostGIS only", errDiffer, e.Service)
		}
	}
	return nil
}
