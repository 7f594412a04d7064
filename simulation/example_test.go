package simulation_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/refkit/refkit/simulation"
)

const smallScenario = `{
  "name": "one pantry",
  "start": "2026-01-05T00:00:00Z",
  "duration": "30d",
  "population": {
    "size": 1000,
    "centres": [{"latitude": 41.88, "longitude": -87.63, "sd_km": 3, "weight": 1, "state": "IL"}],
    "age": {"kind": "uniform", "min": 18, "max": 80},
    "household_size": {"kind": "fixed", "value": 3}
  },
  "screening": {"instrument": "hunger-vital-sign", "coverage": 1,
                "prevalence": [{"domain": "food-insecurity", "p": 0.3}]},
  "sites": [{"name": "clinic", "latitude": 41.88, "longitude": -87.63, "rate_per_day": 25}],
  "services": [{"name": "pantry", "latitude": 41.89, "longitude": -87.62, "domains": ["food-insecurity"],
                "capacity": {"slots": 4}, "service_time": {"kind": "exponential", "mean": 24}}],
  "partners": {"acknowledge_after": {"kind": "exponential", "mean": 4},
               "decide_after": {"kind": "exponential", "mean": 8},
               "contact_after": {"kind": "exponential", "mean": 12}, "reach": 0.9},
  "policy": {"radius_km": 10, "when_full": "rank"}
}`

func ExampleRun() {
	sc, err := simulation.Parse([]byte(smallScenario))
	if err != nil {
		fmt.Println(err)
		return
	}
	report, err := simulation.Run(context.Background(), sc, simulation.Options{Seed: 1, Replications: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("referrals: %.1f\n", report.ReferralsTotal.Mean)
	fmt.Printf("loop closure: %.3f (95%% CI %.3f to %.3f)\n", report.LoopClosureRate.Mean, report.LoopClosureRate.Low, report.LoopClosureRate.High)
	fmt.Printf("pantry utilisation: %.2f\n", report.Services[0].Utilisation.Mean)
	// Output:
	// referrals: 221.0
	// loop closure: 0.889 (95% CI 0.848 to 0.920)
	// pantry utilisation: 0.94
}

func ExampleParse() {
	bad := strings.Replace(smallScenario, `"slots": 4`, `"slots": -4`, 1)
	_, err := simulation.Parse([]byte(bad))
	fmt.Println(err)
	// Output:
	// refkit: invalid input: services[0].capacity.slots must be between 1 and 1,000,000
}

func ExampleLoad() {
	sc, err := simulation.Load("../examples/simulation/scenario.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sc.Name, len(sc.Sites), "sites", len(sc.Services), "services")
	// Output:
	// Lake County food and housing network 2 sites 4 services
}

func ExampleReport_Write() {
	sc, err := simulation.Parse([]byte(smallScenario))
	if err != nil {
		fmt.Println(err)
		return
	}
	report, err := simulation.Run(context.Background(), sc, simulation.Options{Seed: 1, Replications: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "simulation")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := report.Write(dir); err != nil {
		fmt.Println(err)
		return
	}
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		fmt.Println(f.Name())
	}
	// Output:
	// by_reason.csv
	// by_status.csv
	// closure_over_time.csv
	// metrics.json
	// occupancy_over_time.csv
	// reasons_by_replication.csv
	// replications.csv
	// services.csv
	// services_by_replication.csv
	// summary.csv
	// unmet_by_area.csv
	// unmet_by_domain.csv
	// unmet_by_reason.csv
}

func ExampleParseSet() {
	var sets []simulation.Set
	for _, arg := range []string{"services[name=pantry].capacity.slots=8", "policy.accept_within=48h", "policy.sweep_every=1h"} {
		set, err := simulation.ParseSet(arg)
		if err != nil {
			fmt.Println(err)
			return
		}
		sets = append(sets, set)
	}
	sc, err := simulation.Parse([]byte(smallScenario), sets...)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sc.Services[0].Capacity.Slots, time.Duration(sc.Policy.AcceptWithin))

	for _, arg := range []string{"policy.radius=15", "policy.radius_km=far", "services[name=bakery].capacity.slots=2"} {
		set, err := simulation.ParseSet(arg)
		if err == nil {
			_, err = simulation.Parse([]byte(smallScenario), set)
		}
		fmt.Println(err)
	}
	// Output:
	// 8 48h0m0s
	// refkit: invalid input: policy.radius is not a scenario field (radius is unknown)
	// refkit: invalid input: policy.radius_km must be a number
	// refkit: invalid input: services[name=bakery].capacity.slots names no element called "bakery"
}
