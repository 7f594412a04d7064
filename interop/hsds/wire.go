package hsds

// The wire types are the HSDS 3.0 records refkit reads and writes, with the field
// names of the specification. Fields refkit does not map are not declared: the
// JSON reader ignores them and the writers leave them out.

type wireOrganization struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	AlternateName string      `json:"alternate_name,omitempty"`
	Description   string      `json:"description,omitempty"`
	Email         string      `json:"email,omitempty"`
	Website       string      `json:"website,omitempty"`
	Phones        []wirePhone `json:"phones,omitempty"`
}

type wirePhone struct {
	ID     string `json:"id"`
	Number string `json:"number"`
}

type wireService struct {
	ID                     string                  `json:"id"`
	OrganizationID         string                  `json:"organization_id,omitempty"`
	Name                   string                  `json:"name"`
	AlternateName          string                  `json:"alternate_name,omitempty"`
	Description            string                  `json:"description,omitempty"`
	URL                    string                  `json:"url,omitempty"`
	Email                  string                  `json:"email,omitempty"`
	Status                 string                  `json:"status"`
	EligibilityDescription string                  `json:"eligibility_description,omitempty"`
	MinimumAge             *float64                `json:"minimum_age,omitempty"`
	MaximumAge             *float64                `json:"maximum_age,omitempty"`
	Organization           *wireOrganization       `json:"organization,omitempty"`
	ServiceAtLocations     []wireServiceAtLocation `json:"service_at_locations,omitempty"`
	ServiceAreas           []wireServiceArea       `json:"service_areas,omitempty"`
	Languages              []wireLanguage          `json:"languages,omitempty"`
	Schedules              []wireSchedule          `json:"schedules,omitempty"`
	Attributes             []wireAttribute         `json:"attributes,omitempty"`
}

type wireServiceAtLocation struct {
	ID           string            `json:"id"`
	ServiceID    string            `json:"service_id,omitempty"`
	LocationID   string            `json:"location_id,omitempty"`
	Location     *wireLocation     `json:"location,omitempty"`
	ServiceAreas []wireServiceArea `json:"service_areas,omitempty"`
	Schedules    []wireSchedule    `json:"schedules,omitempty"`
}

type wireLocation struct {
	ID           string         `json:"id"`
	LocationType string         `json:"location_type"`
	Name         string         `json:"name,omitempty"`
	Description  string         `json:"description,omitempty"`
	Latitude     *float64       `json:"latitude,omitempty"`
	Longitude    *float64       `json:"longitude,omitempty"`
	Addresses    []wireAddress  `json:"addresses,omitempty"`
	Languages    []wireLanguage `json:"languages,omitempty"`
	Schedules    []wireSchedule `json:"schedules,omitempty"`
}

type wireAddress struct {
	ID            string `json:"id"`
	LocationID    string `json:"location_id,omitempty"`
	Address1      string `json:"address_1"`
	Address2      string `json:"address_2,omitempty"`
	City          string `json:"city"`
	Region        string `json:"region,omitempty"`
	StateProvince string `json:"state_province"`
	PostalCode    string `json:"postal_code"`
	Country       string `json:"country"`
	AddressType   string `json:"address_type"`
}

type wireServiceArea struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Extent      string `json:"extent,omitempty"`
	ExtentType  string `json:"extent_type,omitempty"`
}

type wireLanguage struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Code string `json:"code,omitempty"`
}

type wireSchedule struct {
	ID       string   `json:"id"`
	Timezone *float64 `json:"timezone,omitempty"`
	Freq     string   `json:"freq,omitempty"`
	Interval *float64 `json:"interval,omitempty"`
	Byday    string   `json:"byday,omitempty"`
	OpensAt  string   `json:"opens_at,omitempty"`
	ClosesAt string   `json:"closes_at,omitempty"`
}

type wireAttribute struct {
	ID             string    `json:"id"`
	TaxonomyTermID string    `json:"taxonomy_term_id,omitempty"`
	Value          string    `json:"value,omitempty"`
	TaxonomyTerm   *wireTerm `json:"taxonomy_term,omitempty"`
}

type wireTerm struct {
	ID             string        `json:"id"`
	Code           string        `json:"code,omitempty"`
	Name           string        `json:"name"`
	Description    string        `json:"description"`
	ParentID       string        `json:"parent_id,omitempty"`
	Taxonomy       string        `json:"taxonomy,omitempty"`
	TaxonomyDetail *wireTaxonomy `json:"taxonomy_detail,omitempty"`
}

type wireTaxonomy struct {
	Name string `json:"name"`
}

func (t *wireTerm) taxonomy() string {
	if t.Taxonomy != "" {
		return t.Taxonomy
	}
	if t.TaxonomyDetail != nil {
		return t.TaxonomyDetail.Name
	}
	return ""
}

// page is the HSDS API's paginated list, the shape of GET /services.
type page struct {
	TotalItems int           `json:"total_items"`
	TotalPages int           `json:"total_pages"`
	PageNumber int           `json:"page_number"`
	Size       int           `json:"size"`
	FirstPage  bool          `json:"first_page"`
	LastPage   bool          `json:"last_page"`
	Empty      bool          `json:"empty"`
	Contents   []wireService `json:"contents"`
}
