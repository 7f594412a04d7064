package directory_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/referral"
)

// The cross-process test's parent tells the writer process which backend and
// database to open here: "sqlite:PATH" or "postgres:SCHEMA".
const envWriter = "REFKIT_DIRECTORY_WRITER"

// TestIndexFollowsAnotherProcess runs an Index in this process while another
// process, the test binary run again as a writer, changes the directory in
// the same database: a new service, a capacity, a deletion. Each reaches the
// index through the store's wake-ups alone.
func TestIndexFollowsAnotherProcess(t *testing.T) {
	if os.Getenv(envWriter) != "" {
		t.Skip("running as the writer")
	}
	for _, b := range backends {
		if b.reopen == nil {
			continue // the memory store has no other process
		}
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, where := b.open(t)
			putNetwork(t, s)
			_, err := directory.Load(ctx, s, network, sample(), directory.LoadOptions{})
			require.NoError(t, err)
			ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
			require.NoError(t, err)
			ran := make(chan error, 1)
			go func() { ran <- ix.Run(ctx) }()

			cmd := exec.Command(os.Args[0], "-test.run=^TestDirectoryWriterChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), envWriter+"="+b.name+":"+where)
			cmd.Stderr = os.Stderr
			stdin, err := cmd.StdinPipe()
			require.NoError(t, err)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			t.Cleanup(func() {
				stdin.Close()
				cmd.Process.Kill()
				cmd.Wait()
			})
			lines := bufio.NewScanner(stdout)
			write := func(command string) {
				t.Helper()
				_, err := fmt.Fprintln(stdin, command)
				require.NoError(t, err)
				require.True(t, lines.Scan(), "the writer answers: %v", lines.Err())
				require.Equal(t, "done "+command, lines.Text())
			}
			until := func(what string, ok func() bool) {
				t.Helper()
				deadline := time.Now().Add(time.Minute)
				for !ok() {
					require.True(t, time.Now().Before(deadline), "%s did not reach the index", what)
					time.Sleep(2 * time.Millisecond)
				}
			}
			write("put")
			until("a new service", func() bool { _, ok := ix.Matching().Snapshot().Service(id(40)); return ok })
			write("capacity")
			until("a capacity", func() bool {
				svc, ok := ix.Matching().Snapshot().Service(id(10))
				return ok && svc.Capacity != nil && svc.Capacity.Available == 7
			})
			write("delete")
			until("a deletion", func() bool { _, ok := ix.Matching().Snapshot().Service(id(11)); return !ok })
			cancel()
			require.ErrorIs(t, <-ran, context.Canceled)
		})
	}
}

// TestDirectoryWriterChild is the writer process of
// TestIndexFollowsAnotherProcess: it opens the database it is given and makes
// the change each line of standard input names, answering "done LINE".
func TestDirectoryWriterChild(t *testing.T) {
	spec := os.Getenv(envWriter)
	if spec == "" {
		t.Skip("only run by TestIndexFollowsAnotherProcess")
	}
	kind, where, _ := strings.Cut(spec, ":")
	var s store
	for _, b := range backends {
		if b.name == kind {
			s = b.reopen(t, where)
		}
	}
	require.NotNil(t, s, kind)
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var err error
		switch cmd := in.Text(); cmd {
		case "put":
			err = s.PutService(ctx, service(40, id(1), "from "+strconv.Itoa(os.Getpid())))
		case "capacity":
			err = s.SetCapacity(ctx, network, id(10), &referral.Capacity{Available: 7})
		case "delete":
			err = s.DeleteService(ctx, network, id(11))
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		require.NoError(t, err)
		fmt.Println("done " + in.Text())
	}
}
