package referral

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Domain is a social or health need domain, named by its code. The built-in codes
// are those of the Gravity Project SDOH category value set (code system
// SystemSDOHCC); refkit adds a few (mental health, substance use, ...) under
// SystemRefkit. Hosts register more with RegisterDomain.
type Domain string

// Code systems of domain codes.
const (
	// SystemSDOHCC is the SDOH Clinical Care IG's temporary code system, which holds
	// the Gravity Project's SDOH category codes.
	SystemSDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
	// SystemRefkit holds the domains refkit adds beyond the Gravity value set.
	SystemRefkit = "https://refkit.dev/fhir/CodeSystem/domain"
)

// Gravity Project SDOH categories.
const (
	FoodInsecurity           Domain = "food-insecurity"
	HousingInstability       Domain = "housing-instability"
	Homelessness             Domain = "homelessness"
	InadequateHousing        Domain = "inadequate-housing"
	TransportationInsecurity Domain = "transportation-insecurity"
	UtilityInsecurity        Domain = "utility-insecurity"
	FinancialInsecurity      Domain = "financial-insecurity"
	MaterialHardship         Domain = "material-hardship"
	EmploymentStatus         Domain = "employment-status"
	EducationalAttainment    Domain = "educational-attainment"
	VeteranStatus            Domain = "veteran-status"
	Stress                   Domain = "stress"
	SocialConnection         Domain = "social-connection"
	IntimatePartnerViolence  Domain = "intimate-partner-violence"
	ElderAbuse               Domain = "elder-abuse"
	HealthLiteracy           Domain = "personal-health-literacy"
	HealthInsurance          Domain = "health-insurance-coverage-status"
	MedicalCostBurden        Domain = "medical-cost-burden"
	DigitalLiteracy          Domain = "digital-literacy"
	DigitalAccess            Domain = "digital-access"
)

// Domains refkit adds (SystemRefkit).
const (
	InterpersonalSafety Domain = "interpersonal-safety"
	MentalHealth        Domain = "mental-health"
	SubstanceUse        Domain = "substance-use"
	PhysicalActivity    Domain = "physical-activity"
	Disability          Domain = "disability-status"
	Childcare           Domain = "childcare"
	LegalAssistance     Domain = "legal-assistance"
)

// DomainInfo describes a registered domain.
type DomainInfo struct {
	Code    Domain `json:"code"`
	System  string `json:"system"`
	Display string `json:"display"`
}

// domainRegistry is read on every validation of a need, so readers load an
// immutable map without locking; RegisterDomain copies it (registration is rare).
var domainRegistry struct {
	mu     sync.Mutex // serialises writers
	byCode atomic.Pointer[map[Domain]DomainInfo]
}

func init() {
	builtin := map[Domain]DomainInfo{}
	for _, d := range []DomainInfo{
		{FoodInsecurity, SystemSDOHCC, "Food Insecurity"},
		{HousingInstability, SystemSDOHCC, "Housing Instability"},
		{Homelessness, SystemSDOHCC, "Homelessness"},
		{InadequateHousing, SystemSDOHCC, "Inadequate Housing"},
		{TransportationInsecurity, SystemSDOHCC, "Transportation Insecurity"},
		{UtilityInsecurity, SystemSDOHCC, "Utility Insecurity"},
		{FinancialInsecurity, SystemSDOHCC, "Financial Insecurity"},
		{MaterialHardship, SystemSDOHCC, "Material Hardship"},
		{EmploymentStatus, SystemSDOHCC, "Employment Status"},
		{EducationalAttainment, SystemSDOHCC, "Educational Attainment"},
		{VeteranStatus, SystemSDOHCC, "Veteran Status"},
		{Stress, SystemSDOHCC, "Stress"},
		{SocialConnection, SystemSDOHCC, "Social Connection"},
		{IntimatePartnerViolence, SystemSDOHCC, "Intimate Partner Violence"},
		{ElderAbuse, SystemSDOHCC, "Elder Abuse"},
		{HealthLiteracy, SystemSDOHCC, "Personal Health Literacy"},
		{HealthInsurance, SystemSDOHCC, "Health Insurance Coverage Status"},
		{MedicalCostBurden, SystemSDOHCC, "Medical Cost Burden"},
		{DigitalLiteracy, SystemSDOHCC, "Digital Literacy"},
		{DigitalAccess, SystemSDOHCC, "Digital Access"},
		{InterpersonalSafety, SystemRefkit, "Interpersonal Safety"},
		{MentalHealth, SystemRefkit, "Mental Health"},
		{SubstanceUse, SystemRefkit, "Substance Use"},
		{PhysicalActivity, SystemRefkit, "Physical Activity"},
		{Disability, SystemRefkit, "Disability Status"},
		{Childcare, SystemRefkit, "Childcare"},
		{LegalAssistance, SystemRefkit, "Legal Assistance"},
	} {
		builtin[d.Code] = d
	}
	domainRegistry.byCode.Store(&builtin)
}

// RegisterDomain adds a host-defined domain (or replaces the description of an
// existing one). Register at start-up, before screening or matching load data that
// uses the code. The code must be lower-case kebab-case.
func RegisterDomain(info DomainInfo) error {
	if err := validCode("code", string(info.Code)); err != nil {
		return err
	}
	if info.System == "" {
		return invalid("system", "is required")
	}
	if info.Display == "" {
		return invalid("display", "is required")
	}
	domainRegistry.mu.Lock()
	defer domainRegistry.mu.Unlock()
	next := maps.Clone(*domainRegistry.byCode.Load())
	next[info.Code] = info
	domainRegistry.byCode.Store(&next)
	return nil
}

// LookupDomain returns the registered description of d.
func LookupDomain(d Domain) (DomainInfo, bool) {
	info, ok := (*domainRegistry.byCode.Load())[d]
	return info, ok
}

// Domains lists every registered domain, sorted by code.
func Domains() []DomainInfo {
	byCode := *domainRegistry.byCode.Load()
	out := make([]DomainInfo, 0, len(byCode))
	for _, d := range byCode {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b DomainInfo) int { return cmp.Compare(a.Code, b.Code) })
	return out
}

// Validate reports an unregistered domain code.
func (d Domain) Validate() error {
	if d == "" {
		return invalid("domain", "is required")
	}
	if _, ok := LookupDomain(d); !ok {
		return invalid("domain", "is not a registered domain code")
	}
	return nil
}

// validCode accepts lower-case kebab-case codes of 1 to 64 characters.
func validCode(field, s string) error {
	if s == "" {
		return invalid(field, "is required")
	}
	if len(s) > 64 {
		return invalid(field, "must be at most 64 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0 && i < len(s)-1)
		if !ok {
			return invalid(field, "must be lower-case letters, digits and inner hyphens")
		}
	}
	return nil
}

// ValidateCode checks that s is a well-formed code (lower-case kebab-case, at most
// 64 characters), the shape of every refkit code list entry.
func ValidateCode(field, s string) error { return validCode(field, s) }
