package simulation

import (
	"math/rand/v2"
	"slices"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// answerModel turns the scenario's prevalences and answer distributions into
// answers to a real instrument. It works out from the instrument itself, by
// scoring trial responses, which answers are lowest-risk and which make each
// domain positive, so it needs no per-instrument code.
type answerModel struct {
	in    *screening.Instrument
	items []screening.Item
	// base is the lowest-risk option of each choice item, -1 for other items
	// (left unanswered).
	base []int
	// dists are per-item answer distributions, nil where the scenario gives none.
	dists []choices
	optOf [][]int // dists' choices as option indexes
	// domains and their prevalence; variants[i] lists answer sets that make
	// domain i positive, one of which a positive person gives.
	prevalence []float64
	variants   [][][]assign
}

type assign struct{ item, option int }

func newAnswerModel(in *screening.Instrument, sc *Screening) (*answerModel, error) {
	m := &answerModel{in: in, items: in.Items}
	n := len(m.items)
	m.base = make([]int, n)
	m.dists = make([]choices, n)
	m.optOf = make([][]int, n)
	resp := in.NewResponse()
	var res screening.Result
	score := func(opts []int) []referral.Domain {
		resp.Reset()
		for i, o := range opts {
			if o >= 0 {
				// The codes come from the instrument itself, so Answer cannot fail.
				_ = resp.Answer(m.items[i].ID, m.items[i].Options[o].Code)
			}
		}
		resp.ScoreInto(&res)
		return res.PositiveDomains
	}
	for i, it := range m.items {
		m.base[i] = -1
		if (it.Type == "" || it.Type == screening.TypeChoice) && len(it.Options) > 0 {
			m.base[i] = firstAnswer(it)
		}
	}
	// Start from each item's lowest-risk option on its own, then descend greedily
	// to the answers that find the fewest domains positive. Rules that read
	// several items together (a product, a sum) can hold a single-item descent:
	// for a domain still positive, try all its items at their highest values.
	for i, it := range m.items {
		if m.base[i] < 0 {
			continue
		}
		alone := slices.Repeat([]int{-1}, n)
		best, bestN := m.base[i], n+1
		for o, opt := range it.Options {
			if opt.Declined {
				continue
			}
			alone[i] = o
			if k := len(score(alone)); k < bestN {
				best, bestN = o, k
			}
		}
		m.base[i] = best
	}
	m.descend(score)
	for _, d := range slices.Clone(score(m.base)) {
		trial := slices.Clone(m.base)
		for i, it := range m.items {
			if m.base[i] >= 0 && it.Domain == d {
				trial[i] = highestAnswer(it)
			}
		}
		if len(score(trial)) < len(score(m.base)) {
			m.base = trial
		}
	}
	m.descend(score)
	for _, a := range sc.Answers {
		it, _ := in.Item(a.Item)
		i := slices.IndexFunc(m.items, func(x screening.Item) bool { return x.ID == it.ID })
		m.dists[i] = choices(a.Options)
		for _, c := range a.Options {
			m.optOf[i] = append(m.optOf[i], slices.IndexFunc(it.Options, func(o screening.Option) bool { return o.Code == c.Value }))
		}
	}
	trial := slices.Clone(m.base)
	for k, d := range sc.Prevalence {
		var vs [][]assign
		for i, it := range m.items {
			if m.base[i] < 0 {
				continue
			}
			for o, opt := range it.Options {
				if opt.Declined || o == m.base[i] {
					continue
				}
				trial[i] = o
				if slices.Contains(score(trial), d.Domain) {
					vs = append(vs, []assign{{i, o}})
				}
				trial[i] = m.base[i]
			}
		}
		if len(vs) == 0 {
			// Rules over several items (a sum at a threshold): give every item of
			// the domain its highest-valued answer.
			var all []assign
			for i, it := range m.items {
				if m.base[i] >= 0 && it.Domain == d.Domain {
					all = append(all, assign{i, highestAnswer(it)})
				}
			}
			for _, a := range all {
				trial[a.item] = a.option
			}
			if len(all) > 0 && slices.Contains(score(trial), d.Domain) {
				vs = append(vs, all)
			}
			copy(trial, m.base)
		}
		if len(vs) == 0 {
			return nil, referral.Invalid(idx("screening.prevalence", k)+".domain", "is not a domain the instrument can find positive")
		}
		m.prevalence = append(m.prevalence, d.P)
		m.variants = append(m.variants, vs)
	}
	return m, nil
}

// descend changes one item at a time while that finds fewer domains positive.
func (m *answerModel) descend(score func([]int) []referral.Domain) {
	for range 2 {
		for i, it := range m.items {
			if m.base[i] < 0 {
				continue
			}
			best, bestN := m.base[i], len(score(m.base))
			for o, opt := range it.Options {
				if opt.Declined {
					continue
				}
				m.base[i] = o
				if k := len(score(m.base)); k < bestN {
					best, bestN = o, k
				}
			}
			m.base[i] = best
		}
	}
}

func firstAnswer(it screening.Item) int {
	for o, opt := range it.Options {
		if !opt.Declined {
			return o
		}
	}
	return 0
}

func highestAnswer(it screening.Item) int {
	best, bestV := -1, 0
	for o, opt := range it.Options {
		if opt.Declined {
			continue
		}
		v := o
		if opt.Value != nil {
			v = *opt.Value
		}
		if best < 0 || v >= bestV {
			best, bestV = o, v
		}
	}
	return best
}

// screener answers and scores one person at a time, reusing its buffers.
type screener struct {
	m    *answerModel
	resp *screening.Response
	res  screening.Result
	opts []int
}

func newScreener(m *answerModel) *screener {
	return &screener{m: m, resp: m.in.NewResponse(), opts: make([]int, len(m.items))}
}

// screen draws one person's answers and scores them with the real scorer. The
// needs returned alias the screener's buffers until the next call.
func (s *screener) screen(r *rand.Rand) []referral.Need {
	m := s.m
	copy(s.opts, m.base)
	for i, d := range m.dists {
		if d != nil {
			s.opts[i] = m.optOf[i][d.pick(r)]
		}
	}
	for k, p := range m.prevalence {
		if r.Float64() < p {
			vs := m.variants[k]
			for _, a := range vs[r.IntN(len(vs))] {
				s.opts[a.item] = a.option
			}
		}
	}
	s.resp.Reset()
	for i, o := range s.opts {
		if o >= 0 {
			_ = s.resp.Answer(m.items[i].ID, m.items[i].Options[o].Code)
		}
	}
	s.resp.ScoreInto(&s.res)
	return s.res.Needs
}

func isDeclineCode(code string) bool {
	return slices.Contains(lifecycle.DefaultCodes().Decline, code)
}
