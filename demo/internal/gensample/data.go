package main

import "github.com/refkit/refkit/referral"

// place is a neighbourhood or suburb an organization can have a site in. Centres,
// zips and streets are real; weight says how likely a site is to fall there
// (services cluster in the central city, as they do in 211 listings).
type place struct {
	name    string
	phrase  string // how a description names it: "the South Side"
	city    string
	zip     string
	county  string
	lat     float64
	lon     float64
	weight  int
	streets []string
}

var places = []place{
	{"Downtown", "downtown Columbus", "Columbus", "43215", "Franklin", 39.9612, -82.9988, 4, []string{"S High St", "E Broad St", "E Long St", "E Town St", "E Rich St", "S Front St", "E Spring St"}},
	{"Short North", "the Short North", "Columbus", "43215", "Franklin", 39.9800, -83.0035, 2, []string{"N High St", "W Buttles Ave", "Neil Ave", "W Hubbard Ave"}},
	{"Italian Village", "Italian Village", "Columbus", "43201", "Franklin", 39.9780, -82.9930, 2, []string{"N 4th St", "Summit St", "E 5th Ave"}},
	{"University District", "the University District", "Columbus", "43201", "Franklin", 39.9990, -83.0090, 2, []string{"N High St", "Indianola Ave", "E 11th Ave", "Chittenden Ave"}},
	{"Weinland Park", "Weinland Park", "Columbus", "43201", "Franklin", 39.9930, -82.9950, 3, []string{"N 4th St", "Grant Ave", "E 11th Ave", "Summit St"}},
	{"Milo-Grogan", "Milo-Grogan", "Columbus", "43211", "Franklin", 39.9900, -82.9790, 2, []string{"Cleveland Ave", "E 5th Ave", "Leonard Ave"}},
	{"Linden", "Linden", "Columbus", "43211", "Franklin", 40.0120, -82.9700, 4, []string{"Cleveland Ave", "E Hudson St", "Myrtle Ave", "Joyce Ave", "E Weber Rd"}},
	{"Olde Towne East", "Olde Towne East", "Columbus", "43205", "Franklin", 39.9630, -82.9740, 3, []string{"E Broad St", "Bryden Rd", "Oak St", "E Main St", "S Champion Ave"}},
	{"King-Lincoln Bronzeville", "the King-Lincoln Bronzeville neighborhood", "Columbus", "43203", "Franklin", 39.9700, -82.9770, 4, []string{"Mt Vernon Ave", "E Long St", "N Hamilton Ave", "N Champion Ave"}},
	{"Near East", "the Near East Side", "Columbus", "43205", "Franklin", 39.9560, -82.9640, 4, []string{"E Main St", "Kelton Ave", "Livingston Ave", "Miller Ave"}},
	{"Franklinton", "Franklinton", "Columbus", "43222", "Franklin", 39.9580, -83.0200, 4, []string{"W Broad St", "Sullivant Ave", "W Mound St", "Souder Ave", "McDowell St"}},
	{"German Village", "German Village", "Columbus", "43206", "Franklin", 39.9490, -82.9950, 2, []string{"S 3rd St", "E Livingston Ave", "E Whittier St", "Thurman Ave"}},
	{"Merion Village", "Merion Village", "Columbus", "43206", "Franklin", 39.9340, -82.9910, 3, []string{"Parsons Ave", "S High St", "E Innis Ave"}},
	{"South Side", "the South Side", "Columbus", "43207", "Franklin", 39.9180, -82.9830, 4, []string{"Parsons Ave", "Reeb Ave", "Refugee Rd", "Hosack St", "Lockbourne Rd"}},
	{"Hilltop", "the Hilltop", "Columbus", "43204", "Franklin", 39.9520, -83.0750, 4, []string{"W Broad St", "Sullivant Ave", "Hague Ave", "Wilson Rd", "Demorest Rd"}},
	{"Clintonville", "Clintonville", "Columbus", "43202", "Franklin", 40.0260, -83.0150, 2, []string{"Indianola Ave", "N High St", "W North Broadway"}},
	{"Northland", "Northland", "Columbus", "43229", "Franklin", 40.0860, -82.9770, 3, []string{"Morse Rd", "Cleveland Ave", "Karl Rd", "Northtowne Blvd"}},
	{"Northeast", "the Northeast Side", "Columbus", "43219", "Franklin", 40.0150, -82.9250, 2, []string{"E 5th Ave", "Stelzer Rd", "Agler Rd"}},
	{"Eastmoor", "Eastmoor", "Columbus", "43227", "Franklin", 39.9440, -82.8900, 2, []string{"Livingston Ave", "Courtright Rd", "James Rd"}},
	{"Lincoln Village", "Lincoln Village", "Columbus", "43228", "Franklin", 39.9530, -83.1250, 2, []string{"Georgesville Rd", "Hall Rd", "W Broad St"}},
	{"Whitehall", "Whitehall", "Whitehall", "43213", "Franklin", 39.9670, -82.8850, 2, []string{"E Broad St", "S Hamilton Rd", "Yearling Rd"}},
	{"Reynoldsburg", "Reynoldsburg", "Reynoldsburg", "43068", "Franklin", 39.9550, -82.8120, 2, []string{"E Main St", "Brice Rd", "Livingston Ave"}},
	{"East Reynoldsburg", "east Reynoldsburg", "Reynoldsburg", "43068", "Licking", 39.9600, -82.8030, 1, []string{"E Main St", "Taylor Rd"}},
	{"Gahanna", "Gahanna", "Gahanna", "43230", "Franklin", 40.0190, -82.8790, 2, []string{"Granville St", "N Hamilton Rd", "Johnstown Rd"}},
	{"Westerville", "Westerville", "Westerville", "43081", "Franklin", 40.1260, -82.9290, 2, []string{"S State St", "W Main St", "Schrock Rd"}},
	{"Polaris", "the Polaris area", "Westerville", "43082", "Delaware", 40.1440, -82.9120, 1, []string{"Polaris Pkwy", "Worthington Rd"}},
	{"Worthington", "Worthington", "Worthington", "43085", "Franklin", 40.0930, -83.0180, 1, []string{"N High St", "Wilson Bridge Rd", "Huntley Rd"}},
	{"Dublin", "Dublin", "Dublin", "43017", "Franklin", 40.0990, -83.1140, 1, []string{"W Bridge St", "Frantz Rd", "Post Rd"}},
	{"West Dublin", "west Dublin", "Dublin", "43016", "Union", 40.1100, -83.1750, 1, []string{"Perimeter Dr", "Hyland-Croy Rd"}},
	{"Hilliard", "Hilliard", "Hilliard", "43026", "Franklin", 40.0330, -83.1580, 2, []string{"Main St", "Cemetery Rd", "Fishinger Blvd"}},
	{"Grove City", "Grove City", "Grove City", "43123", "Franklin", 39.8810, -83.0930, 2, []string{"Broadway", "Stringtown Rd", "Columbus St"}},
	{"Groveport", "Groveport", "Groveport", "43125", "Franklin", 39.8780, -82.8840, 1, []string{"Main St", "Groveport Rd"}},
	{"Canal Winchester", "Canal Winchester", "Canal Winchester", "43110", "Fairfield", 39.8430, -82.8050, 1, []string{"High St", "Waterloo St"}},
	{"Lockbourne", "Lockbourne", "Lockbourne", "43137", "Pickaway", 39.8100, -82.9730, 1, []string{"Commerce St", "Lockbourne Rd"}},
}

// Name parts for organizations: an invented two-word prefix and a noun for the
// kind ("Copper Wren" + "Community Pantry"). Each prefix is used once, so every
// organization name is unique and none is a real agency's.
var (
	namePrefixes = []string{"Amber", "Bluestem", "Copper", "Driftwood", "Elderberry", "Fernleaf", "Goldfinch", "Hearthstone",
		"Ironweed", "Juniper", "Kestrel", "Larkspur", "Milkweed", "Nettle", "Oxbow", "Pawpaw", "Quillwort", "Redbud", "Sassafras",
		"Tamarack", "Umberlight", "Verbena", "Wildrye", "Yarrow"}
	nameSuffixes = []string{"Wren", "Lantern", "Kettle", "Hollow", "Commons", "Bridge", "Porch", "Harbor", "Meadow", "Threshold",
		"Orchard", "Compass"}
)

// reach says how a service is reached: at the organization's sites, or only
// through a service area.
type reach int

const (
	atSites reach = iota
	virtualOnly
	countyOnly
)

// hours is the shape of a service's weekly schedule.
type hours int

const (
	officeHours hours = iota
	pantryHours
	saturdayHours
	eveningHours
	mealHours
	sundayHours
	allDay
	noHours
)

// rule is an eligibility rule with its description for people.
type rule struct {
	text  string
	about string
}

// template is a service an organization of some kind offers.
type template struct {
	names   []string
	about   string
	domains []referral.Domain
	// rule is fixed for the template; open templates (crisis lines, walk-in
	// shelters) never get a pool rule.
	rule           rule
	open           bool
	minAge, maxAge int
	reach          reach
	hours          hours
	// anchor templates are always offered by the organizations at a kind's homes,
	// active, at their main site, with room and without a pool rule: they are what
	// the demo is guaranteed to find near downtown.
	anchor bool
	// mobile, when set, is the name the service goes by when it is delivered
	// around a few zip codes instead of at a site.
	mobile string
}

// kind is a type of organization and the services it offers.
type kind struct {
	nouns []string
	about string // %s is the phrase for the main site's place
	count int
	// perOrg is the least and most services one organization of the kind offers.
	perOrg [2]int
	// homes are the main sites of the first organizations of the kind, so that the
	// demo always finds these services near downtown; the rest are drawn by weight.
	homes []string
	// langs are languages services of the kind often add beyond English.
	langs     []string
	templates []template
}

// Short names for the domains, to keep the tables readable.
const (
	food     = referral.FoodInsecurity
	housing  = referral.HousingInstability
	homeless = referral.Homelessness
	repair   = referral.InadequateHousing
	utility  = referral.UtilityInsecurity
	transit  = referral.TransportationInsecurity
	money    = referral.FinancialInsecurity
	jobs     = referral.EmploymentStatus
	safety   = referral.InterpersonalSafety
	ipv      = referral.IntimatePartnerViolence
	mental   = referral.MentalHealth
	sud      = referral.SubstanceUse
	child    = referral.Childcare
	legal    = referral.LegalAssistance
	insure   = referral.HealthInsurance
	social   = referral.SocialConnection
	educ     = referral.EducationalAttainment
	digital  = referral.DigitalAccess
)

func ds(d ...referral.Domain) []referral.Domain { return d }

// Rules shared by many templates.
var (
	seniors    = rule{"age >= 60", "Adults 60 and older."}
	fpl200     = rule{"fpl_percent <= 200", "Household income at or below 200% of the federal poverty guideline."}
	fpl150     = rule{"fpl_percent <= 150", "Household income at or below 150% of the federal poverty guideline."}
	medicaid   = rule{`insurance == "medicaid"`, "Ohio Medicaid members."}
	veterans   = rule{"veteran", "Veterans of the US armed forces, any discharge status."}
	frailOrOld = rule{"disabled || age >= 60", "Adults 60 and older, or people of any age with a disability."}
)

// rulePool holds rules that fit any service; services without a rule of their
// own draw one from it now and then.
var rulePool = []rule{
	fpl200,
	{`county == "Franklin"`, "Franklin County residents."},
	{"household_size >= 2 && fpl_percent <= 250", "Households of two or more people with income at or below 250% of the federal poverty guideline."},
	{`state == "OH" && fpl_percent <= 300`, "Ohio residents with income at or below 300% of the federal poverty guideline."},
	{"age >= 18", "Adults 18 and older."},
	fpl150,
	{"income_annual < 45000", "Household income under $45,000 a year."},
	{`county in ["Franklin", "Madison", "Pickaway"]`, "Residents of Franklin, Madison and Pickaway counties."},
}

var kinds = []kind{
	{
		nouns: []string{"Community Pantry", "Food Pantry", "Neighborhood Pantry", "Food Cupboard"},
		about: "Volunteer-run food pantry serving households in %s and the surrounding neighborhoods.",
		count: 16, perOrg: [2]int{2, 4},
		homes: []string{"Near East", "Franklinton", "South Side", "Linden", "King-Lincoln Bronzeville", "Hilltop", "Weinland Park", "Merion Village"},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Client-Choice Food Pantry", "Weekly Food Pantry"}, about: "Shop-style pantry where each household chooses a week of groceries: produce, dairy, bread and shelf-stable staples. Bring a photo ID and proof of address on the first visit.", domains: ds(food), hours: pantryHours, mobile: "Mobile Food Pantry", anchor: true},
			{names: []string{"Weekend Grocery Distribution"}, about: "Drive-through and walk-up grocery boxes on Saturday mornings; one box per household per week.", domains: ds(food), hours: saturdayHours},
			{names: []string{"Fresh Produce Market"}, about: "Free farmers'-market style distribution of fresh fruit and vegetables twice a month. No appointment needed.", domains: ds(food), hours: pantryHours, mobile: "Mobile Produce Market"},
			{names: []string{"Senior Food Box"}, about: "A monthly box of shelf-stable food and cheese for older adults on a low income.", domains: ds(food), rule: rule{"age >= 60 && fpl_percent <= 130", "Adults 60 and older with income at or below 130% of the federal poverty guideline."}, minAge: 60, hours: officeHours},
			{names: []string{"Home-Delivered Groceries"}, about: "Volunteers deliver a grocery order twice a month to residents who cannot get to a pantry.", domains: ds(food, transit), rule: frailOrOld, hours: officeHours},
			{names: []string{"Diaper and Formula Pantry"}, about: "Diapers, wipes and infant formula for families with babies and toddlers, once a month.", domains: ds(food, child), rule: rule{"household_size >= 2", "Households with a child under three."}, hours: pantryHours, mobile: "Mobile Diaper Pantry"},
			{names: []string{"SNAP Application Help"}, about: "Staff help you apply for or renew SNAP food benefits and gather the documents the county asks for.", domains: ds(food, money), hours: officeHours, mobile: "SNAP Help at Community Sites"},
		},
	},
	{
		nouns: []string{"Community Kitchen", "Supper Table", "Meal Program"},
		about: "Serves free hot meals in %s, no questions asked, in a welcoming dining room.",
		count: 5, perOrg: [2]int{1, 3},
		homes: []string{"Downtown", "Franklinton"},
		templates: []template{
			{names: []string{"Free Community Lunch"}, about: "A hot lunch served family-style every weekday; everyone is welcome.", domains: ds(food, social), open: true, hours: mealHours},
			{names: []string{"Evening Hot Meal"}, about: "Dinner served at a sit-down table on weeknights, with take-home bags when supplies allow.", domains: ds(food), open: true, hours: eveningHours},
			{names: []string{"Sunday Breakfast"}, about: "A cooked breakfast and coffee on Sunday mornings.", domains: ds(food, social), open: true, hours: sundayHours},
			{names: []string{"Kids' Summer Meals"}, about: "Free breakfast and lunch for children and teens when school is out.", domains: ds(food, child), rule: rule{"age < 19", "Children and teens 18 and younger."}, maxAge: 18, hours: mealHours},
		},
	},
	{
		nouns: []string{"Shelter", "House of Welcome", "Family Shelter"},
		about: "Emergency shelter and rehousing help for people without a safe place to sleep in %s and across Franklin County.",
		count: 6, perOrg: [2]int{2, 3},
		homes: []string{"Franklinton", "Downtown", "Near East"},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Emergency Overnight Shelter"}, about: "Beds, showers and an evening meal for single adults; intake every evening.", domains: ds(homeless), open: true, minAge: 18, hours: allDay},
			{names: []string{"Family Emergency Shelter"}, about: "Private rooms for families with children while staff help them find housing.", domains: ds(homeless, housing), rule: rule{"household_size >= 2", "Families with at least one child under 18."}, hours: allDay},
			{names: []string{"Youth Drop-In and Shelter"}, about: "A safe place for young adults to sleep, eat, do laundry and meet a case manager.", domains: ds(homeless), rule: rule{"age >= 18 && age < 25", "Young adults 18 to 24."}, minAge: 18, maxAge: 24, hours: allDay},
			{names: []string{"Rapid Rehousing Program"}, about: "Short-term rent help and case management to move from shelter into an apartment.", domains: ds(housing, homeless), hours: officeHours},
			{names: []string{"Street Outreach"}, about: "Outreach workers meet people living outside or in cars, bring supplies and connect them to shelter and care.", domains: ds(homeless), open: true, reach: countyOnly, hours: noHours},
			{names: []string{"Day Center with Showers and Mail"}, about: "Showers, laundry, a mailing address and phone charging during the day.", domains: ds(homeless), open: true, hours: officeHours},
		},
	},
	{
		nouns: []string{"Regional Housing Agency"},
		about: "Public housing and rent voucher agency for %s and all of Franklin County.",
		count: 1, perOrg: [2]int{4, 5},
		homes: []string{"Near East"},
		langs: []string{"es", "so"},
		templates: []template{
			{names: []string{"Housing Choice Voucher Waitlist"}, about: "Apply for the rent voucher waitlist when it is open; vouchers pay part of the rent to a private landlord.", domains: ds(housing), rule: fpl150, hours: officeHours},
			{names: []string{"Public Housing Applications"}, about: "Apply for an apartment in one of the agency's communities; rent is about 30% of income.", domains: ds(housing), rule: fpl200, hours: officeHours},
			{names: []string{"Senior Apartments Intake"}, about: "Applications for apartment buildings reserved for older adults.", domains: ds(housing), rule: rule{"age >= 62", "Adults 62 and older."}, minAge: 62, hours: officeHours},
			{names: []string{"Accessible Housing Placement"}, about: "Wheelchair-accessible and adapted units for residents with a disability.", domains: ds(housing, repair), rule: rule{"disabled", "People with a disability."}, hours: officeHours},
			{names: []string{"Tenant Repair Requests and Inspections"}, about: "Report unsafe conditions in an agency-assisted home and get an inspection scheduled.", domains: ds(repair), hours: officeHours},
		},
	},
	{
		nouns: []string{"Housing Collaborative", "Tenant Resource Center", "Neighborhood Housing Partners"},
		about: "Helps renters and homeowners in %s keep their homes: rent and deposit help, counseling and mediation.",
		count: 8, perOrg: [2]int{2, 3},
		homes: []string{"South Side", "Linden", "Near East", "Hilltop", "Franklinton"},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Emergency Rent Assistance"}, about: "One-time help with past-due rent to stop an eviction; a caseworker works with your landlord.", domains: ds(housing, money), rule: rule{`fpl_percent <= 200 && county == "Franklin"`, "Franklin County renters with income at or below 200% of the federal poverty guideline."}, hours: officeHours},
			{names: []string{"Eviction Prevention Case Management"}, about: "A caseworker helps you budget, negotiate with your landlord and apply for help before a court date.", domains: ds(housing), hours: officeHours, mobile: "Eviction Prevention Outreach", anchor: true},
			{names: []string{"Security Deposit Assistance"}, about: "Help with a security deposit and first month's rent when moving into a new home.", domains: ds(housing, homeless), hours: officeHours},
			{names: []string{"Housing Search Assistance"}, about: "Listings of landlords who accept vouchers, help with applications and rides to viewings.", domains: ds(housing, homeless), hours: officeHours},
			{names: []string{"Home Energy Bill Assistance"}, about: "Help with a gas or electric bill, or a disconnection notice, once a heating season.", domains: ds(utility), rule: rule{"fpl_percent <= 175", "Household income at or below 175% of the federal poverty guideline."}, hours: officeHours},
			{names: []string{"Mortgage Delinquency Counseling"}, about: "HUD-style housing counseling for homeowners behind on their mortgage or property taxes.", domains: ds(housing, money), hours: officeHours},
			{names: []string{"Landlord-Tenant Mediation"}, about: "A neutral mediator helps tenants and landlords settle disputes about rent, repairs or move-out.", domains: ds(housing, legal), hours: officeHours},
		},
	},
	{
		nouns: []string{"Legal Aid Collective", "Law Project", "Justice Center"},
		about: "Free civil legal help for people on a low income in %s and across central Ohio.",
		count: 4, perOrg: [2]int{2, 3},
		homes: []string{"Downtown", "Near East"},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Eviction Defense Clinic"}, about: "Lawyers meet tenants at housing court and represent them at eviction hearings.", domains: ds(legal, housing), rule: fpl200, hours: officeHours},
			{names: []string{"Public Benefits Appeals"}, about: "Help appealing a denied or reduced SNAP, cash assistance or Medicaid benefit.", domains: ds(legal, money, insure), hours: officeHours},
			{names: []string{"Record Sealing Clinic"}, about: "Help sealing or expunging old criminal records that stand in the way of jobs and housing.", domains: ds(legal, jobs), minAge: 18, hours: eveningHours},
			{names: []string{"Protection Order Assistance"}, about: "Help filing for a civil protection order and preparing for the hearing.", domains: ds(legal, ipv, safety), open: true, hours: officeHours},
			{names: []string{"Housing Conditions Legal Help"}, about: "Advice and representation for tenants whose landlord will not make repairs.", domains: ds(legal, repair), hours: officeHours},
			{names: []string{"Free Legal Advice Line"}, about: "Call for brief advice on housing, family, debt and benefits problems.", domains: ds(legal), open: true, reach: virtualOnly, hours: officeHours},
		},
	},
	{
		nouns: []string{"Behavioral Health", "Counseling Center", "Wellness Center"},
		about: "Community mental health center offering counseling, psychiatry and crisis care in %s.",
		count: 7, perOrg: [2]int{2, 3},
		homes: []string{"Near East", "Linden", "South Side", "Hilltop"},
		langs: []string{"es", "ar"},
		templates: []template{
			{names: []string{"Outpatient Counseling"}, about: "Individual and family therapy with licensed counselors; fees on a sliding scale.", domains: ds(mental), hours: officeHours, mobile: "In-Home Counseling", anchor: true},
			{names: []string{"Same-Day Crisis Walk-In"}, about: "Walk in for a same-day assessment by a crisis clinician; no appointment or insurance needed.", domains: ds(mental), open: true, hours: allDay},
			{names: []string{"24/7 Crisis and Support Line"}, about: "Talk or text with a trained counselor any time, day or night.", domains: ds(mental, sud), open: true, reach: virtualOnly, hours: noHours},
			{names: []string{"Peer Support Groups"}, about: "Weekly groups led by people with lived experience of depression, anxiety and recovery.", domains: ds(mental, social), hours: eveningHours},
			{names: []string{"Psychiatric Medication Management"}, about: "Appointments with a psychiatric nurse practitioner for medication.", domains: ds(mental), rule: medicaid, hours: officeHours},
			{names: []string{"Youth and Family Counseling"}, about: "Counseling for children, teens and young adults and their caregivers.", domains: ds(mental), rule: rule{"age < 25", "Children, teens and young adults under 25 and their families."}, hours: officeHours},
			{names: []string{"Trauma Recovery Groups"}, about: "Groups for adults healing from violence, abuse or other trauma.", domains: ds(mental, safety), hours: eveningHours},
		},
	},
	{
		nouns: []string{"Recovery Center", "Recovery Services"},
		about: "Addiction treatment and recovery support for adults in %s.",
		count: 4, perOrg: [2]int{2, 3},
		homes: []string{"South Side", "Franklinton"},
		templates: []template{
			{names: []string{"Medication for Opioid Use Disorder"}, about: "Same-week starts on buprenorphine or naltrexone with counseling.", domains: ds(sud), minAge: 18, hours: officeHours},
			{names: []string{"Outpatient Addiction Treatment"}, about: "Intensive and regular outpatient programs for alcohol and drug use.", domains: ds(sud, mental), hours: officeHours},
			{names: []string{"Recovery Housing Referrals"}, about: "Placement in certified recovery housing for people early in recovery.", domains: ds(sud, housing), hours: officeHours},
			{names: []string{"Family Recovery Support Group"}, about: "A weekly group for family members of people with a substance use disorder.", domains: ds(sud, social), hours: eveningHours},
		},
	},
	{
		nouns: []string{"Family Safety Center", "Domestic Violence Services"},
		about: "Safety, shelter and advocacy for survivors of domestic violence in %s and across Franklin County. Shelter addresses are confidential.",
		count: 2, perOrg: [2]int{4, 5},
		homes: []string{"Near East", "King-Lincoln Bronzeville"},
		langs: []string{"es", "so", "ar"},
		templates: []template{
			{names: []string{"24-Hour Domestic Violence Hotline"}, about: "Call or text any time to talk with an advocate, make a safety plan or ask for shelter.", domains: ds(ipv, safety), open: true, reach: virtualOnly, hours: noHours},
			{names: []string{"Emergency Safe Shelter"}, about: "Confidential emergency shelter for survivors and their children; call the hotline for intake.", domains: ds(ipv, safety, homeless), open: true, reach: countyOnly, hours: allDay},
			{names: []string{"Advocacy and Safety Planning"}, about: "Meet an advocate to plan for safety, find housing and understand your options.", domains: ds(ipv, safety), open: true, hours: officeHours, anchor: true},
			{names: []string{"Court Advocacy"}, about: "An advocate goes with you to court and helps with protection orders.", domains: ds(ipv, legal), open: true, hours: officeHours},
			{names: []string{"Survivor Support Groups"}, about: "Weekly support groups for survivors of intimate partner violence.", domains: ds(ipv, mental, social), hours: eveningHours},
		},
	},
	{
		nouns: []string{"Peace Project", "Neighborhood Safety Network"},
		about: "Community safety and victim services rooted in %s.",
		count: 3, perOrg: [2]int{2, 3},
		homes: []string{"Linden", "Near East", "Hilltop"},
		templates: []template{
			{names: []string{"Violence Interruption Outreach"}, about: "Trusted outreach workers step in to calm conflicts and connect people at risk to help.", domains: ds(safety), open: true, hours: eveningHours},
			{names: []string{"Crime Victim Advocacy"}, about: "Help for victims of crime: safety planning, compensation claims and court support.", domains: ds(safety, legal), open: true, hours: officeHours, anchor: true},
			{names: []string{"Youth Mentoring and Conflict Resolution"}, about: "Mentors and conflict resolution training for young people.", domains: ds(safety, social), maxAge: 24, hours: eveningHours},
			{names: []string{"Elder Safety Check-Ins"}, about: "Regular visits and calls for older adults who feel unsafe or isolated at home.", domains: ds(safety, social), rule: seniors, hours: officeHours},
		},
	},
	{
		nouns: []string{"Ride Program", "Mobility Project", "Wheels Collective"},
		about: "Transportation help for residents of %s who cannot drive or afford a ride.",
		count: 5, perOrg: [2]int{2, 3},
		homes: []string{"South Side", "Linden", "Near East"},
		templates: []template{
			{names: []string{"Rides to Medical Appointments"}, about: "Free door-to-door rides to medical, dental and pharmacy visits; book two days ahead.", domains: ds(transit), rule: medicaid, hours: officeHours},
			{names: []string{"Bus Pass Assistance"}, about: "Monthly bus passes for job seekers and people getting to appointments.", domains: ds(transit), hours: officeHours, anchor: true},
			{names: []string{"Senior Door-to-Door Rides"}, about: "Rides for older adults to groceries, appointments and senior centers.", domains: ds(transit, social), rule: seniors, minAge: 60, hours: officeHours},
			{names: []string{"Refurbished Bike Program"}, about: "Earn or receive a refurbished bike, lock and helmet, with a basic repair class.", domains: ds(transit), hours: eveningHours},
			{names: []string{"Car Repair Assistance"}, about: "Help paying for repairs that keep a working adult's car on the road.", domains: ds(transit, jobs), rule: fpl200, hours: officeHours},
			{names: []string{"Job Commute Rides"}, about: "Shared rides to warehouse and factory jobs at shift times.", domains: ds(transit, jobs), hours: officeHours},
		},
	},
	{
		nouns: []string{"Energy Assistance Fund", "Utility Help Desk"},
		about: "Keeps the lights, heat and water on for households in %s.",
		count: 6, perOrg: [2]int{2, 3},
		homes: []string{"Franklinton", "Near East", "South Side"},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Electric and Gas Bill Assistance"}, about: "Help with past-due electric or gas bills and disconnection notices.", domains: ds(utility), rule: rule{"fpl_percent <= 175", "Household income at or below 175% of the federal poverty guideline."}, hours: officeHours},
			{names: []string{"Water Shutoff Prevention"}, about: "Payment plans and one-time help to avoid a water shutoff.", domains: ds(utility), hours: officeHours, anchor: true},
			{names: []string{"Home Weatherization"}, about: "Free insulation, air sealing and furnace checks that cut energy bills.", domains: ds(utility, repair), rule: fpl200, hours: officeHours},
			{names: []string{"Summer Cooling Assistance"}, about: "Air conditioners and help with summer electric bills for people at risk in the heat.", domains: ds(utility), rule: frailOrOld, hours: officeHours},
			{names: []string{"Discounted Phone and Internet Enrollment"}, about: "Help signing up for discounted phone and home internet plans.", domains: ds(digital, utility), hours: officeHours},
			{names: []string{"Utility Budget Counseling"}, about: "Set up budget billing and payment plans with the utility companies.", domains: ds(utility, money), hours: officeHours},
		},
	},
	{
		nouns: []string{"Workforce Center", "Job Hub", "Career Works"},
		about: "Job training and placement for job seekers in %s.",
		count: 6, perOrg: [2]int{2, 3},
		homes: []string{"Linden", "Hilltop", "Downtown"},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Job Readiness Workshops"}, about: "Short workshops on applications, interviews and workplace skills, with a job coach.", domains: ds(jobs), hours: officeHours, anchor: true},
			{names: []string{"Resume and Interview Coaching"}, about: "One-on-one help writing a resume and practicing interviews.", domains: ds(jobs), hours: officeHours},
			{names: []string{"Skilled Trades Pre-Apprenticeship"}, about: "A paid eight-week course preparing adults for construction and manufacturing apprenticeships.", domains: ds(jobs, educ), minAge: 18, hours: officeHours},
			{names: []string{"Youth Summer Jobs"}, about: "Paid summer work experience for teens and young adults.", domains: ds(jobs), rule: rule{"age >= 14 && age <= 24", "Young people 14 to 24."}, minAge: 14, maxAge: 24, hours: officeHours},
			{names: []string{"Reentry Employment Services"}, about: "Job placement with employers who hire people with a record.", domains: ds(jobs), hours: officeHours},
			{names: []string{"Commercial Driver Training"}, about: "CDL classes and road practice with job placement on completion.", domains: ds(jobs, educ), rule: rule{"age >= 21", "Adults 21 and older with a valid driver's license."}, minAge: 21, hours: officeHours},
		},
	},
	{
		nouns: []string{"Early Learning Center", "Child Development Center", "Kids Place"},
		about: "Child care and early learning for families in %s.",
		count: 5, perOrg: [2]int{2, 3},
		homes: []string{"Near East", "Linden"},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Childcare Subsidy Navigation"}, about: "Help applying for publicly funded child care and finding a provider with an opening.", domains: ds(child, money), rule: rule{"fpl_percent <= 145", "Household income at or below 145% of the federal poverty guideline."}, hours: officeHours},
			{names: []string{"Infant and Toddler Care"}, about: "Full-day care for children from six weeks to three years.", domains: ds(child), hours: officeHours},
			{names: []string{"Before- and After-School Care"}, about: "Care, homework help and snacks for school-age children.", domains: ds(child, educ), hours: officeHours},
			{names: []string{"Drop-In Childcare for Appointments"}, about: "Free short-term care while parents go to appointments, interviews or classes.", domains: ds(child), hours: officeHours},
			{names: []string{"Free Preschool for Three- and Four-Year-Olds"}, about: "Part-day preschool with meals and family support.", domains: ds(child, educ), rule: rule{"fpl_percent <= 130", "Household income at or below 130% of the federal poverty guideline."}, hours: officeHours},
		},
	},
	{
		nouns: []string{"Community Health Center", "Family Clinic", "Neighborhood Clinic"},
		about: "Primary care clinic for patients of every income in %s.",
		count: 7, perOrg: [2]int{2, 3},
		homes: []string{"South Side", "Near East"},
		langs: []string{"es", "ne", "zh"},
		templates: []template{
			{names: []string{"Health Insurance Enrollment Help"}, about: "Navigators help you apply for Medicaid or a marketplace plan.", domains: ds(insure), hours: officeHours, mobile: "Enrollment Help at Community Sites"},
			{names: []string{"Sliding-Fee Primary Care"}, about: "Check-ups, sick visits and chronic care with fees based on income.", domains: ds(insure), rule: fpl200, hours: officeHours},
			{names: []string{"Prenatal and New Parent Support"}, about: "Prenatal visits, a nurse home visitor and help arranging child care.", domains: ds(child, insure), rule: rule{`pregnant || has_need("childcare")`, "Pregnant people, and parents looking for child care."}, hours: officeHours},
			{names: []string{"Integrated Behavioral Health Visits"}, about: "A counselor on the care team for stress, depression and substance use.", domains: ds(mental, sud), hours: officeHours},
			{names: []string{"Produce Prescription Program"}, about: "Vouchers for fresh fruit and vegetables prescribed by your clinician.", domains: ds(food), rule: medicaid, hours: officeHours},
			{names: []string{"Medicaid Renewal Help"}, about: "Help completing your Medicaid renewal so coverage does not lapse.", domains: ds(insure), rule: medicaid, hours: officeHours, mobile: "Medicaid Renewal Outreach"},
		},
	},
	{
		nouns: []string{"Senior Center", "Active Aging Center"},
		about: "Meals, activities and help at home for older adults in %s.",
		count: 5, perOrg: [2]int{2, 3},
		homes: []string{"Near East"},
		templates: []template{
			{names: []string{"Congregate Lunch for Older Adults"}, about: "A hot lunch and company on weekdays; a small donation is suggested, never required.", domains: ds(food, social), rule: seniors, minAge: 60, hours: mealHours},
			{names: []string{"Senior Social Club"}, about: "Exercise classes, cards, trips and clubs for older adults.", domains: ds(social), rule: rule{"age >= 55", "Adults 55 and older."}, minAge: 55, hours: officeHours},
			{names: []string{"Minor Home Repair for Seniors"}, about: "Grab bars, railings, small plumbing and electrical repairs for older homeowners.", domains: ds(repair), rule: seniors, hours: officeHours},
			{names: []string{"Medicare and Benefits Counseling"}, about: "Unbiased help choosing a Medicare plan and applying for savings programs.", domains: ds(insure, money), rule: frailOrOld, hours: officeHours},
			{names: []string{"Friendly Caller Program"}, about: "A volunteer calls each week to chat and check in.", domains: ds(social), rule: seniors, reach: virtualOnly, hours: noHours},
			{names: []string{"Senior Tech Help"}, about: "Drop-in help with phones, tablets and video calls.", domains: ds(digital), hours: officeHours},
		},
	},
	{
		nouns: []string{"Refugee and Immigrant Services", "New Neighbors Center", "Welcome Center"},
		about: "Resettlement, language and job help for refugees and immigrants in %s and across Columbus.",
		count: 3, perOrg: [2]int{3, 5},
		homes: []string{"King-Lincoln Bronzeville", "Northland", "Linden"},
		langs: []string{"so", "ne", "ar", "fr", "sw", "es"},
		templates: []template{
			{names: []string{"Refugee Resettlement Case Management"}, about: "Case managers help newly arrived families with housing, benefits, school enrollment and appointments.", domains: ds(money, housing), rule: rule{`attributes["arrival_status"] in ["refugee", "asylee", "siv"]`, "Refugees, asylees and Special Immigrant Visa holders."}, hours: officeHours},
			{names: []string{"English Classes for Adults"}, about: "Free English classes at every level, mornings and evenings.", domains: ds(educ, social), minAge: 18, hours: officeHours},
			{names: []string{"Employment Services for New Americans"}, about: "Job placement, interview practice and help with work documents.", domains: ds(jobs), hours: officeHours},
			{names: []string{"Culturally Familiar Food Pantry"}, about: "Halal meat, rice, lentils, spices and produce familiar to East African, Nepali and Arab families.", domains: ds(food), hours: pantryHours, anchor: true},
			{names: []string{"Somali Parent Circle"}, about: "A group for Somali-speaking parents on school, child care and raising children in a new country.", domains: ds(child, social), rule: rule{`speaks("so")`, "Somali-speaking parents and caregivers."}, hours: eveningHours},
			{names: []string{"Citizenship Preparation"}, about: "Classes and application help for the naturalization test.", domains: ds(educ, legal), hours: eveningHours},
		},
	},
	{
		nouns: []string{"Financial Empowerment Center", "Money Coaching Cooperative"},
		about: "Free financial help for working families in %s.",
		count: 4, perOrg: [2]int{2, 3},
		homes: []string{"Downtown"},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Free Tax Preparation"}, about: "IRS-certified volunteers prepare and file your taxes for free and check for credits.", domains: ds(money), rule: rule{"income_annual <= 67000", "Households earning $67,000 a year or less."}, hours: eveningHours, mobile: "Free Tax Preparation at Community Sites"},
			{names: []string{"One-on-One Financial Coaching"}, about: "A coach helps you make a budget, deal with debt and build credit.", domains: ds(money), hours: officeHours},
			{names: []string{"Emergency Cash Assistance"}, about: "A one-time grant for an urgent bill when nothing else can cover it.", domains: ds(money), rule: fpl150, hours: officeHours},
			{names: []string{"Benefits Screening and Enrollment"}, about: "Find out which benefits you qualify for and apply in one visit.", domains: ds(money, food, insure), hours: officeHours, mobile: "Benefits Screening at Community Sites"},
			{names: []string{"Matched Savings Accounts"}, about: "Every dollar saved toward a home, school or business is matched.", domains: ds(money), rule: rule{"fpl_percent <= 200 && age >= 18", "Adults with income at or below 200% of the federal poverty guideline."}, minAge: 18, hours: officeHours},
		},
	},
	{
		nouns: []string{"Adult Learning Center", "Literacy Project"},
		about: "Free classes for adults in %s who want to finish school or learn new skills.",
		count: 4, perOrg: [2]int{2, 3},
		homes: []string{"Linden"},
		langs: []string{"es", "zh"},
		templates: []template{
			{names: []string{"GED Preparation Classes"}, about: "Classes and tutoring to pass the high school equivalency test.", domains: ds(educ), minAge: 18, hours: eveningHours},
			{names: []string{"English as a Second Language"}, about: "Conversation and literacy classes for adult English learners.", domains: ds(educ), hours: officeHours},
			{names: []string{"Digital Skills Classes"}, about: "Learn email, online forms and video calls on a borrowed laptop.", domains: ds(digital, educ), hours: officeHours},
			{names: []string{"Adult Reading Tutoring"}, about: "A volunteer tutor meets you weekly to build reading skills.", domains: ds(educ), hours: eveningHours},
			{names: []string{"College and Training Navigation"}, about: "Help choosing a training program and applying for aid.", domains: ds(educ, jobs), hours: officeHours},
		},
	},
	{
		nouns: []string{"Home Repair Corps", "Housing Preservation Project", "Rebuild Collaborative"},
		about: "Makes homes in %s safe, warm and dry.",
		count: 3, perOrg: [2]int{2, 4},
		homes: []string{"South Side", "Linden", "Near East"},
		templates: []template{
			{names: []string{"Critical Home Repair"}, about: "Roof, furnace, plumbing and electrical repairs for owner-occupied homes.", domains: ds(repair), hours: officeHours, anchor: true},
			{names: []string{"Lead-Safe Homes Program"}, about: "Free lead testing and window and paint repairs in older homes with young children.", domains: ds(repair), rule: rule{"pregnant || household_size >= 2", "Households with a child under six or a pregnant member."}, hours: officeHours},
			{names: []string{"Accessibility Ramps and Modifications"}, about: "Ramps, grab bars and walk-in showers so people can stay in their homes.", domains: ds(repair), rule: frailOrOld, hours: officeHours},
			{names: []string{"Pest and Mold Remediation"}, about: "Treatment for bed bugs, roaches and mold, with help talking to your landlord.", domains: ds(repair), hours: officeHours},
			{names: []string{"Furnace Repair and Replacement"}, about: "Emergency furnace repair or replacement in the heating season.", domains: ds(repair, utility), hours: officeHours},
		},
	},
	{
		nouns: []string{"Digital Bridge", "Connect Lab"},
		about: "Devices, internet and digital skills for residents of %s.",
		count: 2, perOrg: [2]int{2, 3},
		langs: []string{"es"},
		templates: []template{
			{names: []string{"Laptop and Hotspot Lending"}, about: "Borrow a laptop and a mobile hotspot for up to three months.", domains: ds(digital), hours: officeHours, mobile: "Device Lending at Library Branches"},
			{names: []string{"Home Internet Sign-Up Help"}, about: "Help choosing and signing up for a low-cost home internet plan.", domains: ds(digital), hours: officeHours},
			{names: []string{"Public Computer Lab"}, about: "Free computers, printing and staff help with job applications.", domains: ds(digital, jobs), hours: officeHours},
		},
	},
	{
		nouns: []string{"Veterans Outreach", "Veterans Resource Center"},
		about: "Serves veterans and their families in %s and across central Ohio.",
		count: 2, perOrg: [2]int{2, 4},
		templates: []template{
			{names: []string{"Veteran Housing Assistance"}, about: "Rent help and housing placement for veterans who are homeless or about to be.", domains: ds(housing, homeless), rule: veterans, hours: officeHours},
			{names: []string{"Veterans Employment Services"}, about: "Job placement that translates military experience for civilian employers.", domains: ds(jobs), rule: veterans, hours: officeHours},
			{names: []string{"Veteran Peer Connection"}, about: "Veterans meet other veterans for support and activities.", domains: ds(social, mental), rule: veterans, hours: eveningHours},
			{names: []string{"Veterans Emergency Food"}, about: "Grocery cards and food boxes for veterans' households.", domains: ds(food), rule: veterans, hours: officeHours},
		},
	},
	{
		nouns: []string{"Neighborhood House", "Community Center", "Settlement House"},
		about: "A neighborhood center in %s with food, family services and activities for all ages.",
		count: 6, perOrg: [2]int{2, 4},
		homes: []string{"Weinland Park", "South Side", "Franklinton", "Milo-Grogan"},
		langs: []string{"es", "so"},
		templates: []template{
			{names: []string{"Emergency Food Pantry"}, about: "A three-day supply of groceries for households in a food emergency.", domains: ds(food), hours: pantryHours},
			{names: []string{"Utility Shutoff Assistance"}, about: "Help with a shutoff notice for gas, electric or water.", domains: ds(utility), hours: officeHours},
			{names: []string{"Family Resource Navigation"}, about: "A navigator helps with food, housing and money problems and follows up.", domains: ds(food, housing, money), hours: officeHours, mobile: "Family Navigation Home Visits"},
			{names: []string{"Youth Afterschool Program"}, about: "Homework help, sports and arts for school-age children.", domains: ds(child, social, educ), maxAge: 17, hours: officeHours},
			{names: []string{"Community Garden Plots"}, about: "Free garden plots, seeds and growing classes.", domains: ds(food, social), hours: eveningHours},
			{names: []string{"Tenant Rights Workshops"}, about: "Learn your rights as a renter and how to get repairs made.", domains: ds(housing, repair, legal), hours: eveningHours},
			{names: []string{"Neighborhood Ride Vouchers"}, about: "Taxi and rideshare vouchers for urgent trips.", domains: ds(transit), hours: officeHours},
		},
	},
}
