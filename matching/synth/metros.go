package synth

// metro is a US metropolitan area the generator clusters services and people
// around. Populations are rounded 2020-census metropolitan statistical area
// figures in millions and centres are approximate city centres: good enough to
// shape a synthetic directory, not a geographic reference.
type metro struct {
	name     string
	state    string
	county   string
	lat, lon float64
	pop      float64
}

var metros = []metro{
	{"New York", "NY", "New York", 40.71, -74.01, 20.1},
	{"Los Angeles", "CA", "Los Angeles", 34.05, -118.24, 13.2},
	{"Chicago", "IL", "Cook", 41.88, -87.63, 9.6},
	{"Dallas", "TX", "Dallas", 32.78, -96.80, 7.6},
	{"Houston", "TX", "Harris", 29.76, -95.37, 7.1},
	{"Washington", "DC", "District of Columbia", 38.91, -77.04, 6.4},
	{"Philadelphia", "PA", "Philadelphia", 39.95, -75.17, 6.2},
	{"Miami", "FL", "Miami-Dade", 25.76, -80.19, 6.1},
	{"Atlanta", "GA", "Fulton", 33.75, -84.39, 6.1},
	{"Boston", "MA", "Suffolk", 42.36, -71.06, 4.9},
	{"Phoenix", "AZ", "Maricopa", 33.45, -112.07, 4.8},
	{"San Francisco", "CA", "San Francisco", 37.77, -122.42, 4.7},
	{"Riverside", "CA", "Riverside", 33.95, -117.40, 4.6},
	{"Detroit", "MI", "Wayne", 42.33, -83.05, 4.4},
	{"Seattle", "WA", "King", 47.61, -122.33, 4.0},
	{"Minneapolis", "MN", "Hennepin", 44.98, -93.27, 3.7},
	{"San Diego", "CA", "San Diego", 32.72, -117.16, 3.3},
	{"Tampa", "FL", "Hillsborough", 27.95, -82.46, 3.2},
	{"Denver", "CO", "Denver", 39.74, -104.99, 3.0},
	{"Baltimore", "MD", "Baltimore City", 39.29, -76.61, 2.8},
	{"St. Louis", "MO", "St. Louis City", 38.63, -90.20, 2.8},
	{"Orlando", "FL", "Orange", 28.54, -81.38, 2.7},
	{"Charlotte", "NC", "Mecklenburg", 35.23, -80.84, 2.7},
	{"San Antonio", "TX", "Bexar", 29.42, -98.49, 2.6},
	{"Portland", "OR", "Multnomah", 45.52, -122.68, 2.5},
	{"Sacramento", "CA", "Sacramento", 38.58, -121.49, 2.4},
	{"Pittsburgh", "PA", "Allegheny", 40.44, -79.99, 2.4},
	{"Austin", "TX", "Travis", 30.27, -97.74, 2.3},
	{"Las Vegas", "NV", "Clark", 36.17, -115.14, 2.3},
	{"Cincinnati", "OH", "Hamilton", 39.10, -84.51, 2.3},
	{"Kansas City", "MO", "Jackson", 39.10, -94.58, 2.2},
	{"Columbus", "OH", "Franklin", 39.96, -83.00, 2.1},
	{"Indianapolis", "IN", "Marion", 39.77, -86.16, 2.1},
	{"Cleveland", "OH", "Cuyahoga", 41.50, -81.69, 2.1},
	{"San Jose", "CA", "Santa Clara", 37.34, -121.89, 2.0},
	{"Nashville", "TN", "Davidson", 36.16, -86.78, 2.0},
	{"Virginia Beach", "VA", "Virginia Beach", 36.85, -75.98, 1.8},
	{"Providence", "RI", "Providence", 41.82, -71.41, 1.7},
	{"Jacksonville", "FL", "Duval", 30.33, -81.66, 1.6},
	{"Milwaukee", "WI", "Milwaukee", 43.04, -87.91, 1.6},
	{"Raleigh", "NC", "Wake", 35.78, -78.64, 1.4},
	{"Oklahoma City", "OK", "Oklahoma", 35.47, -97.52, 1.4},
	{"Memphis", "TN", "Shelby", 35.15, -90.05, 1.3},
	{"Louisville", "KY", "Jefferson", 38.25, -85.76, 1.3},
	{"Salt Lake City", "UT", "Salt Lake", 40.76, -111.89, 1.3},
	{"New Orleans", "LA", "Orleans", 29.95, -90.07, 1.3},
	{"Birmingham", "AL", "Jefferson", 33.52, -86.80, 1.1},
	{"Buffalo", "NY", "Erie", 42.89, -78.88, 1.2},
	{"Albuquerque", "NM", "Bernalillo", 35.08, -106.65, 0.9},
	{"Omaha", "NE", "Douglas", 41.26, -95.94, 1.0},
	{"Honolulu", "HI", "Honolulu", 21.31, -157.86, 1.0},
	{"Anchorage", "AK", "Anchorage", 61.22, -149.90, 0.4},
	{"Boise", "ID", "Ada", 43.62, -116.20, 0.8},
	{"Des Moines", "IA", "Polk", 41.59, -93.62, 0.7},
	{"Little Rock", "AR", "Pulaski", 34.75, -92.29, 0.75},
	{"Jackson", "MS", "Hinds", 32.30, -90.18, 0.6},
	{"Portland ME", "ME", "Cumberland", 43.66, -70.26, 0.55},
	{"Burlington", "VT", "Chittenden", 44.48, -73.21, 0.23},
	{"Billings", "MT", "Yellowstone", 45.78, -108.50, 0.19},
	{"Fargo", "ND", "Cass", 46.88, -96.79, 0.25},
}
