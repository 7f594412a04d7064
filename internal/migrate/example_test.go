package migrate_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/refkit/refkit/internal/migrate"
)

func Example() {
	fsys := fstest.MapFS{
		"0001_init.sql":    {Data: []byte("CREATE TABLE t (id INTEGER)")},
		"0002_add_col.sql": {Data: []byte("ALTER TABLE t ADD COLUMN name TEXT")},
	}
	ms, err := migrate.Load(fsys)
	if err != nil {
		panic(err)
	}
	db := &fakeDB{} // a backend's Target in real use, behind its own Locker
	st, err := migrate.Run(context.Background(), migrate.Unlocked(db), ms)
	fmt.Println(st.Current, st.Latest, st.Pending(), err)
	// Output: 2 2 false <nil>
}
