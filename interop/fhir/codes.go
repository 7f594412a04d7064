package fhir

import (
	"net/url"
	"slices"
	"strconv"

	"github.com/refkit/refkit/referral"
)

// Codes translate refkit's outcome codes (lifecycle.Codes.Outcome) to and
// from what the SDOH Clinical Care IG carries in a completed Task's output: a
// Procedure coded from US Core Procedure Codes, or a program enrollment
// status. Each table is read in both directions, first match winning: Export
// renders an outcome as the first row naming it; Apply reads a partner's
// procedure code or enrollment status as the outcome of the first row naming
// that code. Hosts extend the defaults by appending rows:
//
//	codes := fhir.DefaultCodes()
//	codes.Procedures = append(codes.Procedures, fhir.ProcedureCode{
//		Outcome: "got-help", Procedure: fhir.Coding{System: fhir.SystemSNOMED, Code: "...", Display: "..."}})
//
// An outcome in neither table (need-met-elsewhere, by default: the receiver
// did nothing) completes the Task with refkit's outcome output alone.
type Codes struct {
	Procedures  []ProcedureCode  `json:"procedures"`
	Enrollments []EnrollmentCode `json:"enrollments"`
}

// ProcedureCode pairs an outcome with a procedure (SNOMED CT, or another
// system of US Core Procedure Codes: CPT, HCPCS, ICD-10-PCS, CDT, LOINC).
type ProcedureCode struct {
	Outcome   string `json:"outcome"`
	Procedure Coding `json:"procedure"`
}

// EnrollmentCode pairs an outcome with one of the IG's program enrollment
// statuses: enrolled, not-enrolled or not-enrolled-on-waitlist.
type EnrollmentCode struct {
	Outcome string `json:"outcome"`
	Status  string `json:"status"`
}

// procedureSystems are the code systems of US Core Procedure Codes (US Core
// 7.0.0, input/resources-yaml/valueset-us-core-procedure-code.yml), which a
// completed Task's procedure code is bound to (required).
var procedureSystems = []string{
	SystemSNOMED,
	"http://www.ama-assn.org/go/cpt",
	"https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
	"http://www.cms.gov/Medicare/Coding/ICD10",
	"http://www.ada.org/cdt",
	"http://loinc.org",
}

// enrollmentStatuses are SDOHCCValueSetProgramEnrollmentStatus (IG STU3
// ballot, input/fsh/valuesets/SDOHCCValueSetEnrollmentStatus.fsh), codes of
// SystemSDOHCC.
var enrollmentStatuses = map[string]string{
	"enrolled": "Enrolled", "not-enrolled": "Not Enrolled", "not-enrolled-on-waitlist": "Not Enrolled - On Waitlist",
}

// DefaultCodes returns the tables for lifecycle.DefaultCodes' outcomes. Help
// given is a social service procedure (SNOMED CT 410606002); the IG's food
// examples' procedures (710925007 provision of food, and assistance with
// applying to a food pantry, the Summer Food Service Program or a garden
// program) read back as got-help. The enrollment outcomes are the IG's
// enrollment statuses. Each call returns fresh slices.
func DefaultCodes() Codes {
	social := Coding{System: SystemSNOMED, Code: codeSocialService, Display: "Social service procedure"}
	return Codes{
		Procedures: []ProcedureCode{
			{"got-help", social},
			{"partially-helped", social},
			{"other", social},
			// The IG's example procedures (2.3.0, input/fsh/instances/SDOHCC-Procedure*.fsh).
			{"got-help", Coding{System: SystemSNOMED, Code: "710925007", Display: "Provision of food"}},
			{"got-help", Coding{System: SystemSNOMED, Code: "467771000124109", Display: "Assistance with application for food pantry program"}},
			{"got-help", Coding{System: SystemSNOMED, Code: "467681000124101", Display: "Assistance with application for Summer Food Service Program"}},
			{"got-help", Coding{System: SystemSNOMED, Code: "467751000124104", Display: "Assistance with application for garden program"}},
		},
		Enrollments: []EnrollmentCode{
			{"enrolled", "enrolled"}, {"not-enrolled", "not-enrolled"}, {"on-waitlist", "not-enrolled-on-waitlist"},
		},
	}
}

// validate checks every row against the outcome list the engine closes
// referrals with, and the codes against the IG's bindings.
func (c Codes) validate(outcomes []string) error {
	for i, p := range c.Procedures {
		at := "codes.procedures[" + strconv.Itoa(i) + "]"
		if !slices.Contains(outcomes, p.Outcome) {
			return referral.Invalid(at+".outcome", "is not in the engine's outcome code list")
		}
		if !slices.Contains(procedureSystems, p.Procedure.System) {
			return referral.Invalid(at+".procedure.system", "is not a system of US Core Procedure Codes")
		}
		if err := validCodeText(at+".procedure.code", p.Procedure.Code, 64); err != nil {
			return err
		}
		if p.Procedure.System == SystemSNOMED && !snomedID(p.Procedure.Code) {
			return referral.Invalid(at+".procedure.code", "is not a SNOMED CT concept id")
		}
		if len(p.Procedure.Display) > 300 {
			return referral.Invalid(at+".procedure.display", "is too long")
		}
	}
	for i, e := range c.Enrollments {
		at := "codes.enrollments[" + strconv.Itoa(i) + "]"
		if !slices.Contains(outcomes, e.Outcome) {
			return referral.Invalid(at+".outcome", "is not in the engine's outcome code list")
		}
		if _, ok := enrollmentStatuses[e.Status]; !ok {
			return referral.Invalid(at+".status", "is not one of the IG's program enrollment statuses")
		}
	}
	return nil
}

// procedureFor is the first procedure row of outcome.
func (c Codes) procedureFor(outcome string) (Coding, bool) {
	for _, p := range c.Procedures {
		if p.Outcome == outcome {
			return p.Procedure, true
		}
	}
	return Coding{}, false
}

// enrollmentFor is the first enrollment row of outcome.
func (c Codes) enrollmentFor(outcome string) (string, bool) {
	for _, e := range c.Enrollments {
		if e.Outcome == outcome {
			return e.Status, true
		}
	}
	return "", false
}

// outcomeOfProcedure is the outcome of the first row naming the procedure.
func (c Codes) outcomeOfProcedure(p Coding) (string, bool) {
	for _, row := range c.Procedures {
		if row.Procedure.System == p.System && row.Procedure.Code == p.Code {
			return row.Outcome, true
		}
	}
	return "", false
}

// outcomeOfEnrollment is the outcome of the first row naming the status.
func (c Codes) outcomeOfEnrollment(status string) (string, bool) {
	for _, row := range c.Enrollments {
		if row.Status == status {
			return row.Outcome, true
		}
	}
	return "", false
}

// only keeps the rows whose outcome is one of outcomes: the defaults, for an
// engine whose outcome list is the host's own.
func (c Codes) only(outcomes []string) Codes {
	var out Codes
	for _, p := range c.Procedures {
		if slices.Contains(outcomes, p.Outcome) {
			out.Procedures = append(out.Procedures, p)
		}
	}
	for _, e := range c.Enrollments {
		if slices.Contains(outcomes, e.Outcome) {
			out.Enrollments = append(out.Enrollments, e)
		}
	}
	return out
}

func (c Codes) clone() Codes {
	return Codes{Procedures: slices.Clone(c.Procedures), Enrollments: slices.Clone(c.Enrollments)}
}

// snomedID reports whether s is shaped as a SNOMED CT concept id: 6 to 18
// digits, no leading zero.
func snomedID(s string) bool {
	if len(s) < 6 || len(s) > 18 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validCodeText checks a code: FHIR's code type (no leading or trailing white
// space, no control characters), at most max bytes.
func validCodeText(field, s string, max int) error {
	if s == "" {
		return referral.Invalid(field, "is required")
	}
	if len(s) > max {
		return referral.Invalid(field, "is too long")
	}
	for _, r := range s {
		if r < 0x21 && r != ' ' || r == 0x7f || r == 0xfffd {
			return referral.Invalid(field, "must be a code without control characters")
		}
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return referral.Invalid(field, "must not start or end with a space")
	}
	return nil
}

// absoluteURI reports whether s is an absolute URI, as a base URL or an
// identifier system must be.
func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && len(s) <= 2048
}
