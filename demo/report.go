package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// Report is what a demo run did and how well the loop closed. It holds the
// sample's fictional names so a person can read it; a host's own reports would
// carry ids only.
type Report struct {
	Network       string      `json:"network"`
	NetworkID     referral.ID `json:"network_id"`
	Organizations int         `json:"organizations"`
	Services      int         `json:"services"`
	Referrer      string      `json:"referrer"`
	// Start and End bound the virtual time the demo played.
	Start     time.Time        `json:"start"`
	End       time.Time        `json:"end"`
	People    []PersonReport   `json:"people"`
	Referrals []ReferralReport `json:"referrals"`
	// Unmet lists needs no service within RadiusM could take.
	Unmet []UnmetNeed `json:"unmet"`
	// Sweep totals what the daily deadline sweeps did.
	Sweep lifecycle.SweepResult `json:"sweep"`
	// Loop is the lifecycle's loop-closure report for the referrer.
	Loop lifecycle.Report `json:"loop"`
}

// PersonReport is one person's screening.
type PersonReport struct {
	Person     referral.ID       `json:"person_id"`
	Name       string            `json:"name"`
	Screenings []ScreeningReport `json:"screenings"`
	// Needs are the needs referred, one per domain, most pressing first.
	Needs []referral.Need `json:"needs"`
}

// ScreeningReport is the scored result of one instrument.
type ScreeningReport struct {
	Instrument      string            `json:"instrument"`
	Total           *float64          `json:"total"`
	Band            string            `json:"band,omitempty"`
	Valid           bool              `json:"valid"`
	PositiveDomains []referral.Domain `json:"positive_domains"`
	Flags           []string          `json:"flags,omitempty"`
}

// ReferralReport is one referral and where it ended.
type ReferralReport struct {
	Referral     referral.ID      `json:"referral_id"`
	Person       referral.ID      `json:"person_id"`
	Name         string           `json:"name"`
	Domain       referral.Domain  `json:"domain"`
	Urgency      referral.Urgency `json:"urgency"`
	Service      referral.ID      `json:"service_id"`
	ServiceName  string           `json:"service"`
	Receiver     referral.ID      `json:"receiver_id"`
	ReceiverName string           `json:"receiver"`
	// DistanceM is the distance to the matched location; nil when the service
	// was matched through its service area (Area).
	DistanceM *float64          `json:"distance_m,omitempty"`
	Area      referral.AreaKind `json:"area,omitempty"`
	// Score and Reasons are why matching ranked the service first.
	Score   float64           `json:"score"`
	Reasons []matching.Reason `json:"reasons"`
	// Replaces is the declined referral this one redirects.
	Replaces referral.ID     `json:"replaces,omitzero"`
	Status   referral.Status `json:"status"`
	Reason   string          `json:"reason,omitempty"`
	Outcome  string          `json:"outcome,omitempty"`
	Sent     time.Time       `json:"sent"`
	Closed   time.Time       `json:"closed,omitzero"`
	// Events counts the referral's history.
	Events int `json:"events"`
}

// UnmetNeed is a need no service could take.
type UnmetNeed struct {
	Person referral.ID     `json:"person_id"`
	Name   string          `json:"name"`
	Domain referral.Domain `json:"domain"`
	// Redirect is set when the need was declined and no other service was left.
	Redirect bool `json:"redirect,omitempty"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // names like "Food & Housing" stay readable
	return enc.Encode(r)
}

// WriteText writes the report for a person to read: the screening, every
// referral with where it ended, and the loop-closure summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (a fictional sample)\n", r.Network)
	fmt.Fprintf(&b, "Directory: %d organizations, %d services. Referring: %s.\n", r.Organizations, r.Services, r.Referrer)
	fmt.Fprintf(&b, "Virtual time %s to %s.\n", r.Start.Format(timeLayout), r.End.Format(timeLayout))

	b.WriteString("\nScreening (AHC HRSN and PHQ-9)\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, p := range r.People {
		var parts []string
		for _, s := range p.Screenings {
			parts = append(parts, s.summary())
		}
		fmt.Fprintf(tw, "  %s\t%s\n", p.Name, strings.Join(parts, "; "))
	}
	tw.Flush()

	b.WriteString("\nReferrals\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	last := referral.ID{}
	for _, rr := range r.chains() {
		name := rr.Name
		if rr.Person == last {
			name = ""
		}
		last = rr.Person
		domain := string(rr.Domain)
		if !rr.Replaces.IsZero() {
			domain = "  ↳ redirected"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s, %s (%s)\t%s\n", name, domain, rr.ServiceName, rr.ReceiverName, rr.where(), rr.ending())
	}
	tw.Flush()
	for _, u := range r.Unmet {
		fmt.Fprintf(&b, "  %s: no service within %d km could take %s\n", u.Name, RadiusM/1000, u.Domain)
	}

	l := r.Loop
	fmt.Fprintf(&b, "\nLoop closure: %d referrals, %d closed with an outcome (%.0f%%)\n", l.Total, l.ByStatus[referral.StatusCompleted], 100*l.ClosureRate)
	fmt.Fprintf(&b, "  by status: %s\n", byStatus(l))
	fmt.Fprintf(&b, "  median (p90) from sending: acknowledged %s (%s), accepted %s (%s), completed %s (%s)\n",
		span(l.TimeToAcknowledge.Median), span(l.TimeToAcknowledge.P90),
		span(l.TimeToAccept.Median), span(l.TimeToAccept.P90),
		span(l.TimeToComplete.Median), span(l.TimeToComplete.P90))
	fmt.Fprintf(&b, "  deadline sweep: %d escalated, %d expired\n", r.Sweep.Escalated, r.Sweep.Expired)
	_, err := io.WriteString(w, b.String())
	return err
}

// chains orders the referrals as they were first sent, each followed by the
// redirects that replaced it.
func (r *Report) chains() []ReferralReport {
	out := make([]ReferralReport, 0, len(r.Referrals))
	var follow func(id referral.ID)
	follow = func(id referral.ID) {
		for _, rr := range r.Referrals {
			if rr.Replaces == id {
				out = append(out, rr)
				follow(rr.Referral)
			}
		}
	}
	for _, rr := range r.Referrals {
		if rr.Replaces.IsZero() {
			out = append(out, rr)
			follow(rr.Referral)
		}
	}
	return out
}

const timeLayout = "Mon 2 Jan 2006 15:04 MST"

func (s ScreeningReport) summary() string {
	var b strings.Builder
	b.WriteString(s.Instrument)
	if s.Total != nil {
		fmt.Fprintf(&b, " %g", *s.Total)
		if s.Band != "" {
			fmt.Fprintf(&b, " %s", s.Band)
		}
	}
	if !s.Valid {
		b.WriteString(" (incomplete)")
	}
	b.WriteString(": ")
	if len(s.PositiveDomains) == 0 {
		b.WriteString("no needs")
	}
	for i, d := range s.PositiveDomains {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(d))
	}
	for _, f := range s.Flags {
		fmt.Fprintf(&b, " [%s]", f)
	}
	return b.String()
}

func (rr ReferralReport) where() string {
	if rr.DistanceM != nil {
		return fmt.Sprintf("%.1f km", *rr.DistanceM/1000)
	}
	return "serves the " + string(rr.Area)
}

func (rr ReferralReport) ending() string {
	s := string(rr.Status)
	switch {
	case rr.Outcome != "":
		s += ": " + rr.Outcome
	case rr.Reason != "":
		s += ": " + rr.Reason
	}
	if !rr.Closed.IsZero() {
		s += " after " + span(rr.Closed.Sub(rr.Sent))
	}
	return s
}

// byStatus lists the report's counts in the lifecycle's status order.
func byStatus(l lifecycle.Report) string {
	var parts []string
	for _, s := range referral.Statuses() {
		n := l.ByStatus[s]
		if n == 0 {
			continue
		}
		part := fmt.Sprintf("%d %s", n, s)
		if reasons := l.ByReason[s]; len(reasons) > 0 && s != referral.StatusCompleted {
			var codes []string
			for code, c := range reasons {
				if code != "" {
					codes = append(codes, fmt.Sprintf("%s %d", code, c))
				}
			}
			slices.Sort(codes)
			if len(codes) > 0 {
				part += " (" + strings.Join(codes, ", ") + ")"
			}
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// span prints a duration the way a case manager would say it: "3h 30m",
// "2d 4h".
func span(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	default:
		days, h := int(d.Hours())/24, int(d.Hours())%24
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd %dh", days, h)
	}
}
