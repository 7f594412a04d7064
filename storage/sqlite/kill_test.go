package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/storagetest"
)

// The kill test's parent passes the child its database and seed in these
// variables; the child's fixture is read back from the database.
const (
	envKillDB   = "REFKIT_SQLITE_KILL_DB"
	envKillSeed = "REFKIT_SQLITE_KILL_SEED"
	killRounds  = 50
)

// TestKill is the durability test: a child process drives referrals through
// the lifecycle on a SQLite file and reports each transition once the call has
// returned; it is killed with SIGKILL at a random moment. After every kill the
// file must open, pass PRAGMA integrity_check, hold every reported transition,
// and every referral's events must replay to its stored status and version.
func TestKill(t *testing.T) {
	if os.Getenv(envKillDB) != "" {
		t.Skip("running as the kill test's child")
	}
	rounds := killRounds
	if testing.Short() {
		rounds = 2 // the inner loop; CI runs every round
	}
	rng := rand.New(rand.NewPCG(5, 0x4b111))
	reported := 0
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "kill.db")
		s, err := Open(t.Context(), path, Options{})
		require.NoError(t, err)
		f := storagetest.NewFixture(t, s, uint64(round+1))
		require.NoError(t, s.Close())

		lines := runAndKill(t, path, uint64(round+1), time.Duration(20+rng.IntN(281))*time.Millisecond)
		reported += len(lines)
		verifyAfterKill(t, path, f.Network.ID, lines)
	}
	t.Logf("%d rounds, %d reported transitions verified", rounds, reported)
}

// runAndKill starts the child on path, kills it after its ready line and the
// given delay, and returns the complete transition lines it printed.
func runAndKill(t *testing.T, path string, seed uint64, after time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envKillDB+"="+path, envKillSeed+"="+strconv.FormatUint(seed, 10))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())

	ready := make(chan struct{})
	done := make(chan []string)
	go func() {
		var lines []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "ready":
				close(ready)
			case strings.HasPrefix(line, "moved "):
				lines = append(lines, line)
			}
		}
		done <- lines
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child did not get ready")
	}
	time.Sleep(after)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	lines := <-done
	err = cmd.Wait()
	require.Error(t, err, "the child was killed, it did not finish")
	return lines
}

// verifyAfterKill reopens the file the child was killed on and checks it.
func verifyAfterKill(t *testing.T, path string, network referral.ID, lines []string) {
	t.Helper()
	ctx := t.Context()
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err, "a killed writer leaves a database that opens")
	defer s.Close()

	var check string
	require.NoError(t, s.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check))
	require.Equal(t, "ok", check)

	for _, line := range lines {
		var idText, status string
		var version int64
		_, err := fmt.Sscanf(line, "moved %s %d %s", &idText, &version, &status)
		require.NoError(t, err, line)
		id, err := referral.ParseID(idText)
		require.NoError(t, err)
		r, err := s.GetReferral(ctx, network, id)
		require.NoError(t, err, "a reported referral is stored")
		require.GreaterOrEqual(t, r.Version, version, "a reported transition is stored")
		events, err := s.ReferralEvents(ctx, network, id)
		require.NoError(t, err)
		require.Equal(t, referral.Status(status), events[version-1].To, "the reported event is stored")
	}

	var after referral.ID
	for {
		page, next, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: network, Page: storage.Page{After: after, Limit: storage.MaxLimit}})
		require.NoError(t, err)
		for _, r := range page {
			events, err := s.ReferralEvents(ctx, network, r.ID)
			require.NoError(t, err)
			status, version, err := referral.Replay(events)
			require.NoError(t, err)
			require.Equal(t, r.Status, status, "events replay to the stored status")
			require.Equal(t, r.Version, version, "events replay to the stored version")
		}
		if next.IsZero() {
			return
		}
		after = next
	}
}

// TestKillChild is TestKill's child process; run on its own it skips.
func TestKillChild(t *testing.T) {
	path := os.Getenv(envKillDB)
	if path == "" {
		t.Skip("the child process of TestKill; it runs only when TestKill starts it")
	}
	seed, err := strconv.ParseUint(os.Getenv(envKillSeed), 10, 64)
	require.NoError(t, err)
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)

	f := childFixture(t, s, seed)

	var tick time.Duration
	clock := func() time.Time { tick += time.Millisecond; return f.Now.Add(tick) }
	ids := referral.NewIDGenerator(clock, rand.NewChaCha8([32]byte{byte(seed), 0xc1}))
	engine, err := lifecycle.New(s, s, lifecycle.Options{Now: clock, IDs: ids})
	require.NoError(t, err)
	sender := referral.Actor{Network: f.Network.ID, Organization: f.Sender.ID, User: "navigator", Role: referral.RoleStaff}
	receiver := referral.Actor{Network: f.Network.ID, Organization: f.Receiver.ID, User: "intake", Role: referral.RoleStaff}
	report := func(r referral.Referral, err error) referral.Referral {
		if err != nil {
			fmt.Fprintln(os.Stderr, "kill child:", err)
			os.Exit(3)
		}
		// One write per line, after the call returned: what the parent reads
		// was committed.
		fmt.Fprintf(os.Stdout, "moved %s %d %s\n", r.ID, r.Version, r.Status)
		return r
	}
	fmt.Fprintln(os.Stdout, "ready")
	rng := rand.New(rand.NewPCG(seed, 0xc4))
	deadline := time.Now().Add(20 * time.Second) // never outlive a parent that failed to kill
	for time.Now().Before(deadline) {
		r := report(engine.Create(ctx, sender, lifecycle.CreateRequest{
			Person: f.Person.ID, Receiver: f.Receiver.ID,
			Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		}))
		r = report(engine.Send(ctx, sender, r.ID))
		if rng.IntN(5) == 0 {
			report(engine.Decline(ctx, receiver, r.ID, "no-capacity", ""))
			continue
		}
		r = report(engine.Accept(ctx, receiver, r.ID, ""))
		if rng.IntN(2) == 0 {
			r = report(engine.Start(ctx, receiver, r.ID))
		}
		report(engine.Complete(ctx, receiver, r.ID, referral.Outcome{Code: "got-help"}))
	}
	os.Exit(4)
}

// childFixture rebuilds the fixture the parent stored with seed: NewFixture's
// ids depend only on the seed, so building it again on a scratch memory store
// gives the same records.
func childFixture(t *testing.T, s *Store, seed uint64) *storagetest.Fixture {
	f := storagetest.NewFixture(t, memory.New(), seed)
	_, err := s.GetNetwork(context.Background(), f.Network.ID)
	require.NoError(t, err, "the parent stored the fixture")
	return f
}
