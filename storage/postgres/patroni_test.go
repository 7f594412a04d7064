package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/storagetest"
)

// patroniVariable names the directory of the cluster .ci/patroni-cluster.sh
// started; CI's .ci/run sets it.
const patroniVariable = "REFKIT_TEST_PATRONI"

// cluster is what .ci/patroni-cluster.sh writes to cluster.json.
type cluster struct {
	URL   string `json:"url"`
	Nodes []struct {
		Name           string `json:"name"`
		REST           string `json:"rest"`
		Port           int    `json:"port"`
		DataDir        string `json:"data_dir"`
		PatroniPIDFile string `json:"patroni_pid_file"`
	} `json:"nodes"`
	// reinits counts the standbys waitHealthy reinitialized.
	reinits int
}

// member is a node as the Patroni REST API's GET /cluster reports it.
type member struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	State string `json:"state"`
	Port  int    `json:"port"`
}

// testCluster returns the Patroni cluster, or skips t when none is configured.
func testCluster(t testing.TB) *cluster {
	t.Helper()
	dir := os.Getenv(patroniVariable)
	if dir == "" {
		t.Skip("Patroni tests need " + patroniVariable + "; start a throwaway cluster with " +
			"`export " + patroniVariable + "=$(.ci/patroni-cluster.sh)` and stop it with `.ci/patroni-cluster.sh stop`")
	}
	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	require.NoError(t, err)
	var c cluster
	require.NoError(t, json.Unmarshal(b, &c))
	require.Len(t, c.Nodes, 3)
	return &c
}

// members asks the nodes in turn for the cluster's state, as the first that
// answers sees it.
func (c *cluster) members() ([]member, error) {
	client := http.Client{Timeout: time.Second}
	var last error
	for _, n := range c.Nodes {
		resp, err := client.Get(n.REST + "/cluster")
		if err != nil {
			last = err
			continue
		}
		var body struct {
			Members []member `json:"members"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			last = err
			continue
		}
		return body.Members, nil
	}
	return nil, fmt.Errorf("no Patroni node answered: %w", last)
}

// leader returns the name of the node that leads, if one does.
func (c *cluster) leader() (string, bool) {
	ms, err := c.members()
	if err != nil {
		return "", false
	}
	for _, m := range ms {
		if m.Role == "leader" && m.State == "running" {
			return m.Name, true
		}
	}
	return "", false
}

// healthy reports a leader, a synchronous standby, and three running members.
func (c *cluster) healthy() bool {
	ms, err := c.members()
	if err != nil || len(ms) != 3 {
		return false
	}
	roles := map[string]int{}
	for _, m := range ms {
		if m.State != "running" && m.State != "streaming" {
			return false
		}
		roles[m.Role]++
	}
	return roles["leader"] == 1 && roles["sync_standby"] == 1
}

// waitHealthy waits until the cluster is healthy, failing t after limit. A
// standby that cannot start is reinitialized from the leader, as an operator
// would (patronictl reinit): after a failover, an asynchronous standby that
// had received WAL the promoted synchronous standby never got has diverged
// from the new timeline ("requested timeline is not a child of this server's
// history"), and Patroni 3.0.2 restarts it in a loop instead of rewinding it.
func (c *cluster) waitHealthy(t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	asked := map[string]time.Time{}
	for !c.healthy() {
		require.True(t, time.Now().Before(deadline), "the Patroni cluster did not become healthy within %s", limit)
		if ms, err := c.members(); err == nil {
			for _, m := range ms {
				if m.State != "start failed" || time.Since(asked[m.Name]) < 10*time.Second {
					continue
				}
				asked[m.Name] = time.Now()
				if err := c.reinitialize(m.Name); err != nil {
					t.Logf("reinitialize %s: %v", m.Name, err)
					continue
				}
				c.reinits++
				t.Logf("reinitialized %s, a standby that had diverged from the new leader", m.Name)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reinitialize asks node name's Patroni to rebuild its PostgreSQL from the
// leader (POST /reinitialize).
func (c *cluster) reinitialize(name string) error {
	for _, n := range c.Nodes {
		if n.Name != name {
			continue
		}
		client := http.Client{Timeout: 5 * time.Second}
		resp, err := client.Post(n.REST+"/reinitialize", "application/json", strings.NewReader(`{"force": true}`))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	return fmt.Errorf("no node %s", name)
}

// node returns the node called name.
func (c *cluster) node(t testing.TB, name string) (dataDir, patroniPIDFile string) {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Name == name {
			return n.DataDir, n.PatroniPIDFile
		}
	}
	t.Fatalf("no node %s", name)
	return "", ""
}

// pidFromFile reads the process id on the first line of a pid file.
func pidFromFile(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	return pid
}

// children returns the processes whose parent is pid: a postmaster's
// backends, WAL sender and helpers.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command (in parentheses, which may hold
		// spaces) start with the state and the parent's pid.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// signalAll sends sig to each process, ignoring those already gone.
func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

// TestPatroniLeaderByURL opens a store through the cluster's multi-host URL
// with the leader named last: target_session_attrs=read-write must pass over
// the two standbys, and the store writes on the leader.
func TestPatroniLeaderByURL(t *testing.T) {
	c := testCluster(t)
	c.waitHealthy(t, 2*time.Minute)
	leader, ok := c.leader()
	require.True(t, ok)
	var hosts []string
	for _, n := range c.Nodes {
		if n.Name != leader {
			hosts = append(hosts, "127.0.0.1:"+strconv.Itoa(n.Port))
		}
	}
	for _, n := range c.Nodes {
		if n.Name == leader {
			hosts = append(hosts, "127.0.0.1:"+strconv.Itoa(n.Port))
		}
	}
	url := "postgres://postgres@" + strings.Join(hosts, ",") + "/refkit_test?sslmode=disable&target_session_attrs=read-write"
	ctx := context.Background()
	s, err := Open(ctx, url, Options{Schema: newSchema(t, c.URL)})
	require.NoError(t, err)
	defer s.Close()
	f := storagetest.NewFixture(t, s, 1)
	f.Create(t, s, f.NewReferral(referral.StatusRequested))
	var standby bool
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby))
	require.False(t, standby, "the store writes on the leader")
}
