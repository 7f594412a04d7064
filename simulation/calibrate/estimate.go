package calibrate

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/internal/stats"
)

// minProfile is the fewest first referrals a site needs for hour and weekday
// profiles; a quieter site gets a flat rate.
const minProfile = 200

// site is one referring organization's first referrals.
type site struct {
	org    referral.ID
	n      int
	counts [7][24]int // by local weekday (Monday first) and hour
	lat    float64
	lon    float64
	points int
}

// scenario assembles the twin from what was read.
func (c *calibration) scenario() (*simulation.Scenario, error) {
	// Arrivals are counted over the period referrals were created in; the
	// events after it (referrals running to their end) are the drain.
	days := float64(c.arrivalsEnd-c.from) / float64(24*time.Hour)
	sc := &simulation.Scenario{
		Name:     "calibrated: " + c.networkName(),
		Start:    time.Unix(0, c.from).In(c.loc),
		TimeZone: c.opt.TimeZone,
		Duration: simulation.Duration(time.Duration(c.arrivalsEnd - c.from).Round(time.Minute)),
		Drain:    simulation.Duration(90 * 24 * time.Hour),
	}
	sc.Warmup = simulation.Duration(min(time.Duration(sc.Duration)/5, 30*24*time.Hour).Round(time.Hour))
	c.note("warmup is a fifth of the period, at most 30 days: the twin starts empty while the network did not")

	first, needs := c.arrivals(sc, days)
	c.screeningNeeds(sc, needs, first)
	c.population(sc, first)
	partners, err := c.estimatePartners(sc)
	if err != nil {
		return nil, err
	}
	c.policy(sc)
	if err := c.servicesOf(sc, partners); err != nil {
		return nil, err
	}
	if sc.Calibration == nil {
		sc.Calibration = &simulation.Calibration{}
	}
	cal := sc.Calibration
	cal.Source, cal.Network, cal.Referrals = c.opt.Source, c.network.String(), len(c.recs)
	cal.From, cal.To = time.Unix(0, c.from).In(c.loc), time.Unix(0, c.to).In(c.loc)
	cal.Estimates, cal.Notes = c.est, c.notes
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("calibrate: the calibrated scenario does not validate: %w", err)
	}
	return sc, nil
}

// arrivals sets the scenario's sites from the first referrals, each site's
// rate and, for a busy site, its hour and weekday profile; it returns the
// number of arrivals and, by domain, how many had that need.
func (c *calibration) arrivals(sc *simulation.Scenario, days float64) (int, map[referral.Domain]int) {
	svcIndex := map[referral.ID]int{}
	for i := range c.services {
		svcIndex[c.services[i].ID] = i
	}
	orgService := map[referral.ID]int{} // an organization's first service with a location
	for i, s := range c.services {
		if _, ok := orgService[s.Organization]; !ok && len(s.Locations) > 0 {
			orgService[s.Organization] = i
		}
	}
	receivers := map[referral.ID]bool{}
	for i := range c.recs {
		receivers[c.recs[i].receiver] = true
	}

	// Arrivals: first referrals by sender. The first referrals a site creates
	// at one instant are one arrival: the needs one screening found.
	type arrival struct {
		sender referral.ID
		at     int64
	}
	groups := map[arrival][]referral.Domain{}
	var order []arrival
	sites := map[referral.ID]*site{}
	for i := range c.recs {
		r := &c.recs[i]
		if !r.replaces.IsZero() {
			continue
		}
		key := arrival{r.sender, r.created}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], r.domains...)
		st, ok := sites[r.sender]
		if !ok {
			st = &site{org: r.sender}
			sites[r.sender] = st
		}
		if k, ok := svcIndex[r.service]; ok && len(c.services[k].Locations) > 0 {
			st.lat += c.services[k].Locations[0].Latitude
			st.lon += c.services[k].Locations[0].Longitude
			st.points++
		}
	}
	needs := map[referral.Domain]int{}
	for _, key := range order {
		st := sites[key.sender]
		st.n++
		local := time.Unix(0, key.at).In(c.loc)
		st.counts[(int(local.Weekday())+6)%7][local.Hour()]++
		seen := map[referral.Domain]bool{}
		for _, d := range groups[key] {
			if !seen[d] {
				seen[d] = true
				needs[d]++
			}
		}
	}
	first := len(order)
	exposure := c.exposure()
	var chi float64
	var df int
	names := map[string]bool{}
	for _, org := range sortedByName(sites, c.orgName) {
		st := sites[org]
		s := simulation.Site{Name: unique(names, c.orgName(org))}
		switch k, ok := orgService[org]; {
		case ok:
			s.Latitude, s.Longitude = c.services[k].Locations[0].Latitude, c.services[k].Locations[0].Longitude
		case st.points > 0:
			s.Latitude, s.Longitude = st.lat/float64(st.points), st.lon/float64(st.points)
		default:
			c.note("site %q: no location known (it runs no service and its referrals went to services without one); placed at 0,0", s.Name)
		}
		if receivers[org] {
			c.note("site %q also receives referrals: its first referrals may follow services it gave (pathways), which the twin models as arrivals", s.Name)
		}
		perHour := float64(st.n) / (days * 24)
		if st.n >= minProfile {
			lambda, hourly, weekday, x, f := profile(&st.counts, &exposure)
			perHour = lambda
			s.Hourly, s.Weekday = roundAll(hourly[:]), roundAll(weekday[:])
			chi += x
			df += f
		} else {
			c.note("site %q: %d first referrals, too few for hour and weekday profiles: a flat rate", s.Name, st.n)
		}
		s.RatePerDay = round(perHour*24, 5)
		lo, hi := poissonInterval(st.n)
		c.estimate(fmt.Sprintf("sites[name=%s].rate_per_day", s.Name), s.RatePerDay, lo/days, hi/days, st.n)
		sc.Sites = append(sc.Sites, s)
		sc.Population.Centres = append(sc.Population.Centres, simulation.Centre{Latitude: s.Latitude, Longitude: s.Longitude, SDKM: 5, Weight: float64(st.n)})
	}
	if df > 0 {
		sc.Calibration = &simulation.Calibration{Arrivals: &simulation.ChiSquare{Statistic: round(chi, 6), DF: df, PValue: round(stats.ChiSquareSF(chi, df), 4)}}
	}
	return first, needs

}

// screeningNeeds sets the screening model: the share of arrivals with each domain.
func (c *calibration) screeningNeeds(sc *simulation.Scenario, needs map[referral.Domain]int, first int) {
	// Needs: the share of arrivals with each domain, drawn independently.
	for _, d := range slices.Sorted(maps.Keys(needs)) {
		p := c.proportion("screening.needs["+string(d)+"]", min(needs[d], first), first)
		sc.Screening.Needs = append(sc.Screening.Needs, simulation.DomainRate{Domain: d, P: round(p, 6)})
	}
	sc.Screening.Coverage = 1
	c.note("needs are drawn per arrival, each domain independently with the share of arrivals that had it (an arrival: the first referrals a site made at one instant); the screening instrument is not modelled")

}

// population places the twin's people around the sites, with neutral facts.
func (c *calibration) population(sc *simulation.Scenario, first int) {
	// Population: around the sites, with neutral facts.
	pop := c.opt.Population
	if pop == 0 {
		pop = min(max(first, 1000), 1_000_000)
	}
	sc.Population.Size = pop
	sc.Population.Age = simulation.Dist{Kind: simulation.Uniform, Min: new(18.0), Max: new(85.0)}
	sc.Population.HouseholdSize = simulation.Dist{Kind: simulation.Normal, Mean: 2.6, SD: 1.4, Min: new(1.0), Max: new(9.0)}
	c.note("population: placed within about 5 km of the sites in proportion to their referrals, ages 18-85, household 2.6 on average, income unknown: the history holds no personal data, so set these to the network's population")

}

// partnerModel is what the history shows of the partners, per service and
// pooled over the network.
type partnerModel struct {
	perService  map[referral.ID]*partner
	expiries    map[referral.ID][]float64 // hours waited until a waitlist place expired
	serviceTime simulation.Dist           // pooled
	busy, held  map[referral.ID]int       // most in service, and most holding a place, at once
}

// estimatePartners sets the network's partner behaviour from every referral and
// returns the per-service estimates the services are built from.
func (c *calibration) estimatePartners(sc *simulation.Scenario) (*partnerModel, error) {
	// Partners and capacity, per service.
	perService := map[referral.ID]*partner{}
	pooled := newPartner()
	at := func(k int32) *partner {
		id := c.recs[k].service
		p, ok := perService[id]
		if !ok {
			p = newPartner()
			perService[id] = p
		}
		return p
	}
	noService := 0
	for k := range c.recs {
		r := &c.recs[k]
		if r.service.IsZero() {
			noService++
			continue
		}
		c.observe(at(int32(k)), r)
	}
	if noService > 0 {
		c.note("%d referrals named no service and were left out of partner estimates", noService)
	}
	expiries := map[referral.ID][]float64{}
	for _, w := range c.waits {
		if c.recs[w.rec].service.IsZero() {
			continue
		}
		p := at(w.rec)
		switch {
		case w.ended && w.reason == simulation.ReasonAbandoned:
			p.patience.add(w.hours(), true)
		case w.ended && w.reason == simulation.ReasonWaitlistExpired:
			p.patience.add(w.hours(), false)
			expiries[c.recs[w.rec].service] = append(expiries[c.recs[w.rec].service], w.hours())
		default:
			p.patience.add(w.hours(), false)
		}
	}
	for _, sv := range c.servs {
		if c.recs[sv.rec].service.IsZero() {
			continue
		}
		at(sv.rec).service.add(sv.hours(), sv.ended && sv.outcome == referral.StatusCompleted)
	}
	for _, p := range perService {
		pooled.merge(p)
	}
	network, err := c.partners("partners", pooled, nil)
	if err != nil {
		return nil, err
	}
	sc.Partners = *network
	serviceTime, ok := fitDist(&pooled.service)
	if !ok {
		serviceTime = simulation.Dist{Kind: simulation.Exponential, Mean: 24}
		c.note("no service was ever completed: service times of 24 hours on average assumed")
	}
	return &partnerModel{
		perService: perService, expiries: expiries, serviceTime: serviceTime,
		busy: c.concurrency(false), held: c.concurrency(true),
	}, nil

}

// policy sets deadlines from the referrals' own fields and re-referrals
// from their chains.
func (c *calibration) policy(sc *simulation.Scenario) {
	var acks, accepts []time.Duration
	for i := range c.recs {
		acks, accepts = append(acks, c.recs[i].ackWithin), append(accepts, c.recs[i].acceptWithin)
	}
	sc.Policy = simulation.Policy{
		RadiusKM: c.opt.RadiusKM, WhenFull: matching.Exclude, Acceptance: simulation.AcceptanceHolds,
		AcknowledgeWithin: simulation.Duration(mode(acks)), AcceptWithin: simulation.Duration(mode(accepts)),
		MaxRereferrals: min(c.chains(), simulation.MaxRereferrals), ClosureBucket: simulation.Duration(7 * 24 * time.Hour),
	}
	c.note("search radius %g km, full services excluded from searches, acceptance holds a place: the history does not show them", c.opt.RadiusKM)
	if sc.Policy.AcknowledgeWithin > 0 || sc.Policy.AcceptWithin > 0 {
		sc.Policy.SweepEvery = simulation.Duration(time.Hour)
		sc.Policy.ExpireAfter = simulation.Duration(c.expireAfter())
	}

}

// servicesOf sets the scenario's services: the directory's, each with what
// its referrals showed.
func (c *calibration) servicesOf(sc *simulation.Scenario, m *partnerModel) error {
	svcNames := map[string]bool{}
	for _, s := range c.services {
		if len(s.Locations) == 0 {
			c.note("service %q has no location and is left out", s.Name)
			continue
		}
		if s.Eligibility != "" && matching.CheckRule(s.Eligibility) != nil {
			c.note("service %q has a rule this version cannot compile and is left out", s.Name)
			continue
		}
		name := unique(svcNames, s.Name)
		out := simulation.Service{
			Name: name, Latitude: s.Locations[0].Latitude, Longitude: s.Locations[0].Longitude,
			Domains: s.Domains, Eligibility: s.Eligibility, MinimumAge: s.MinimumAge, MaximumAge: s.MaximumAge,
			Languages: s.Languages, ServiceTime: m.serviceTime,
		}
		f := "services[name=" + name + "]"
		p := m.perService[s.ID]
		if p == nil {
			p = newPartner()
		}
		if len(p.service.obs) >= c.opt.MinSample {
			if d, ok := fitDist(&p.service); ok {
				out.ServiceTime = d
			}
		}
		if p.referred >= c.opt.MinSample {
			own, err := c.partners(f+".partner", p, &sc.Partners)
			if err != nil {
				return err
			}
			out.Partner = own
			c.proportion(f+".completion_rate", p.completed, p.referred)
		}
		limited := s.Capacity != nil || p.capacityDeclines > 0 || m.held[s.ID] > 0
		if limited && m.busy[s.ID] > 0 {
			out.Capacity = &simulation.Capacity{Slots: m.busy[s.ID]}
			if p.capacityDeclines > 0 {
				out.Capacity.Waitlist = new(m.held[s.ID])
			}
			// The most in service at once bounds the slots from below; a busy
			// service reaches it.
			c.estimate(f+".capacity.slots", float64(m.busy[s.ID]), float64(m.busy[s.ID]), float64(m.busy[s.ID]), len(p.service.obs)+len(p.service.cens))
		}
		policy := &simulation.ServicePolicy{}
		var sAcks, sAccepts []time.Duration
		for i := range c.recs {
			if c.recs[i].service == s.ID {
				sAcks, sAccepts = append(sAcks, c.recs[i].ackWithin), append(sAccepts, c.recs[i].acceptWithin)
			}
		}
		if d := mode(sAcks); len(sAcks) > 0 && d != time.Duration(sc.Policy.AcknowledgeWithin) {
			policy.AcknowledgeWithin = new(simulation.Duration(d))
		}
		if d := mode(sAccepts); len(sAccepts) > 0 && d != time.Duration(sc.Policy.AcceptWithin) {
			policy.AcceptWithin = new(simulation.Duration(d))
		}
		if ws := m.expiries[s.ID]; len(ws) > 0 {
			slices.Sort(ws)
			policy.MaxWait = new(simulation.Duration(time.Duration(ws[len(ws)/2] * float64(time.Hour)).Round(time.Minute)))
		}
		if *policy != (simulation.ServicePolicy{}) {
			out.Policy = policy
		}
		sc.Services = append(sc.Services, out)
	}
	if len(sc.Services) == 0 {
		return fmt.Errorf("calibrate: network %s has no service with a location: %w", c.network, referral.ErrNotFound)
	}
	return nil
}

// observe adds one referral's partner behaviour.
func (c *calibration) observe(p *partner, r *record) {
	p.referred++
	if r.endStatus == referral.StatusCompleted {
		p.completed++
	}
	end := r.end
	if end == 0 {
		end = c.to
	}
	if r.sent != 0 {
		if r.ack != 0 {
			p.ack.add(hoursBetween(r.sent, r.ack), true)
		} else {
			p.ack.add(hoursBetween(r.sent, end), false)
		}
	}
	if r.ack != 0 {
		if r.decided != 0 {
			p.decide.add(hoursBetween(r.ack, r.decided), true)
		} else {
			p.decide.add(hoursBetween(r.ack, end), false)
		}
	}
	if r.decided != 0 {
		p.decided++
		if r.declined {
			switch r.reason {
			case "no-capacity":
				p.capacityDeclines++
			case "service-not-offered":
				p.notOffered++
			default:
				p.declines[r.reason]++
			}
		}
	}
	if r.accepted {
		switch {
		case r.contact != 0:
			p.contact.add(hoursBetween(r.decided, r.contact), true)
			p.contacts++
			if !r.reached {
				p.unreached++
			}
		case r.contactCut != 0:
			p.contact.add(hoursBetween(r.decided, r.contactCut), false)
		default:
			p.contact.add(hoursBetween(r.decided, end), false)
		}
	}
	if r.start != 0 {
		p.begins++
	}
	if r.endStatus == referral.StatusFailed && r.reason == "no-show" {
		p.noShows++
	}
}

// partners builds a Partners block from one service's (or the network's)
// observations; fallback, when set, supplies what the sample is too small for.
func (c *calibration) partners(f string, p *partner, fallback *simulation.Partners) (*simulation.Partners, error) {
	out := &simulation.Partners{}
	if fallback != nil {
		*out = *fallback
		out.Decline = nil
	}
	dist := func(name string, d *durations, dst *simulation.Dist) {
		if fallback != nil && len(d.obs) < c.opt.MinSample {
			return
		}
		if got, ok := fitDist(d); ok {
			*dst = got
		} else if fallback == nil {
			*dst = simulation.Dist{Kind: simulation.Fixed}
			c.note("%s.%s: never observed; 0 hours assumed", f, name)
		}
	}
	dist("acknowledge_after", &p.ack, &out.AcknowledgeAfter)
	dist("decide_after", &p.decide, &out.DecideAfter)
	dist("contact_after", &p.contact, &out.ContactAfter)
	// Declines for capacity or a closed service are the model's own doing; the
	// other reasons are drawn among decisions that had room.
	room := p.decided - p.capacityDeclines - p.notOffered
	if fallback == nil || room >= c.opt.MinSample {
		total := 0.0
		for _, reason := range slices.Sorted(maps.Keys(p.declines)) {
			if !slices.Contains(lifecycle.DefaultCodes().Decline, reason) {
				c.note("%s: decline reason %q is not a default code and is left out", f, reason)
				continue
			}
			q := c.proportion(f+".decline["+reason+"]", p.declines[reason], room)
			total += q
			out.Decline = append(out.Decline, simulation.ReasonRate{Reason: reason, P: round(q, 6)})
		}
		if total > 1 {
			for i := range out.Decline {
				out.Decline[i].P /= total
			}
		}
	} else if fallback != nil {
		out.Decline = fallback.Decline
	}
	if fallback == nil || p.contacts >= c.opt.MinSample {
		if p.contacts > 0 {
			out.Reach = round(c.proportion(f+".reach", p.contacts-p.unreached, p.contacts), 6)
		} else if fallback == nil {
			out.Reach = 1
			c.note("%s.reach: nobody accepted was ever contacted; 1 assumed", f)
		}
	}
	if shows := p.begins + p.noShows; fallback == nil || shows >= c.opt.MinSample {
		if shows > 0 {
			out.NoShow = round(c.proportion(f+".no_show", p.noShows, shows), 6)
		}
	}
	if len(p.patience.obs) > 0 && (fallback == nil || len(p.patience.obs) >= c.opt.MinSample) {
		if d, ok := fitDist(&p.patience); ok {
			out.Patience = &d
		}
	}
	out.FollowThrough = nil
	return out, nil
}

// concurrency returns, per service, the most referrals in service at once
// (waitlist false) or on its waitlist at once (true).
func (c *calibration) concurrency(waitlist bool) map[referral.ID]int {
	type change struct {
		at    int64
		delta int
	}
	stays := c.servs
	if waitlist {
		stays = c.waits
	}
	by := map[referral.ID][]change{}
	for _, s := range stays {
		id := c.recs[s.rec].service
		by[id] = append(by[id], change{s.from, +1}, change{s.until, -1})
	}
	out := map[referral.ID]int{}
	for id, cs := range by {
		// Leaving before joining at one instant: a slot handed over is not two.
		slices.SortFunc(cs, func(a, b change) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.delta, b.delta)) })
		n, top := 0, 0
		for _, ch := range cs {
			n += ch.delta
			top = max(top, n)
		}
		out[id] = top
	}
	return out
}

// chains returns the most re-referrals one need received: the longest chain
// of referrals replacing one another, less one.
func (c *calibration) chains() int {
	depth := make([]int, len(c.recs))
	longest := 0
	for i := range c.recs {
		d, j := 0, i
		for d <= simulation.MaxRereferrals {
			k, ok := c.byID[c.recs[j].replaces]
			if c.recs[j].replaces.IsZero() || !ok {
				break
			}
			if depth[k] > 0 {
				d += depth[k] + 1
				break
			}
			d++
			j = int(k)
		}
		depth[i] = d
		longest = max(longest, d)
	}
	return longest
}

// expireAfter estimates the grace after a missed deadline before expiry: the
// shortest time from the missed deadline to an expiry (the sweep expires at
// its first run after the grace).
func (c *calibration) expireAfter() time.Duration {
	best := time.Duration(-1)
	for i := range c.recs {
		r := &c.recs[i]
		if r.endStatus != referral.StatusCancelled || r.reason != lifecycle.ReasonExpired || r.sent == 0 {
			continue
		}
		var due int64
		if r.ack == 0 && r.ackWithin > 0 {
			due = r.sent + int64(r.ackWithin)
		}
		if r.acceptWithin > 0 && (due == 0 || r.sent+int64(r.acceptWithin) < due) {
			due = r.sent + int64(r.acceptWithin)
		}
		if due == 0 {
			continue
		}
		if g := time.Duration(r.end - due); g >= 0 && (best < 0 || g < best) {
			best = g
		}
	}
	if best < 0 {
		return 0
	}
	return best.Truncate(time.Hour)
}

// exposure counts the hours of each local weekday and hour in the period.
func (c *calibration) exposure() [7][24]float64 {
	var e [7][24]float64
	for t := c.from; t < c.arrivalsEnd; {
		local := time.Unix(0, t).In(c.loc)
		into := time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
		next := min(t+int64(time.Hour-into), c.arrivalsEnd)
		e[(int(local.Weekday())+6)%7][local.Hour()] += hoursBetween(t, next)
		t = next
	}
	return e
}

// profile fits counts by weekday and hour to rate × hourly[h] × weekday[d] ×
// exposure (a log-linear Poisson model, by iterative proportional fitting),
// with the multipliers' means 1, and returns the rate per hour, the
// multipliers and the chi-square statistic and degrees of freedom of the fit
// over cells expecting at least 5.
func profile(counts *[7][24]int, e *[7][24]float64) (lambda float64, hourly [24]float64, weekday [7]float64, chi float64, df int) {
	for h := range hourly {
		hourly[h] = 1
	}
	for d := range weekday {
		weekday[d] = 1
	}
	total := 0.0
	for d := range 7 {
		for h := range 24 {
			total += float64(counts[d][h])
		}
	}
	fitted := func() float64 {
		s := 0.0
		for d := range 7 {
			for h := range 24 {
				s += hourly[h] * weekday[d] * e[d][h]
			}
		}
		return s
	}
	lambda = total / fitted()
	for range 100 {
		for h := range 24 {
			num, den := 0.0, 0.0
			for d := range 7 {
				num += float64(counts[d][h])
				den += lambda * weekday[d] * e[d][h]
			}
			if den > 0 {
				hourly[h] = num / den
			}
		}
		for d := range 7 {
			num, den := 0.0, 0.0
			for h := range 24 {
				num += float64(counts[d][h])
				den += lambda * hourly[h] * e[d][h]
			}
			if den > 0 {
				weekday[d] = num / den
			}
		}
		mh, md := mean(hourly[:]), mean(weekday[:])
		for h := range hourly {
			hourly[h] /= mh
		}
		for d := range weekday {
			weekday[d] /= md
		}
		lambda = total / fitted()
	}
	cells := 0
	for d := range 7 {
		for h := range 24 {
			exp := lambda * hourly[h] * weekday[d] * e[d][h]
			if exp < 5 {
				continue
			}
			diff := float64(counts[d][h]) - exp
			chi += diff * diff / exp
			cells++
		}
	}
	return lambda, hourly, weekday, chi, max(1, cells-1-23-6)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func roundAll(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = round(x, 4)
	}
	return out
}

// poissonInterval is an approximate 95% interval for a Poisson count
// (Wilson-Hilferty for the chi-square quantiles), never below 0.
func poissonInterval(n int) (float64, float64) {
	z := stats.Z975
	if n == 0 {
		return 0, 3.689 // the exact upper bound for a zero count
	}
	x := float64(n)
	lo := x * math.Pow(1-1/(9*x)-z/(3*math.Sqrt(x)), 3)
	x1 := x + 1
	hi := x1 * math.Pow(1-1/(9*x1)+z/(3*math.Sqrt(x1)), 3)
	return max(0, lo), hi
}

func (c *calibration) networkName() string { return c.network.String() }

func (c *calibration) orgName(id referral.ID) string {
	if n := c.orgNames[id]; n != "" {
		return n
	}
	return "organization " + id.String()
}

// unique returns name, numbered if taken.
func unique(taken map[string]bool, name string) string {
	out := name
	for i := 2; taken[out]; i++ {
		out = name + " (" + strconv.Itoa(i) + ")"
	}
	taken[out] = true
	return out
}
