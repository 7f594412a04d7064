// Package corpus reads the hostile-rule corpus the rule tests and fuzz targets
// share (matching/testdata/hostile_rules.txt): rules written to break a rule
// engine, each with the verdict the default limits must give it.
//
// A line is a verdict, a tab, and the rule. The verdict is "ok" (admitted) or
// "reject: <text>" (rejected with an error containing text). The rule is a
// sequence of Go-quoted strings joined by "+", each optionally repeated with
// "*N", so a corpus line can hold NUL bytes, invalid UTF-8 and 10,000-node
// expressions while staying readable. Blank lines and lines starting with "#"
// are ignored.
package corpus

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Case is one corpus rule.
type Case struct {
	// Line is the case's line in the file.
	Line int
	// Rule is the rule text.
	Rule string
	// Reject is the text the rejection must contain; empty when the rule must
	// be admitted.
	Reject string
}

// maxRepeat bounds a "*N": the corpus is test data, but read as untrusted.
const maxRepeat = 100_000

// Load reads the corpus file at path.
func Load(path string) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads a corpus.
func Parse(r io.Reader) ([]Case, error) {
	var out []Case
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verdict, rule, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("corpus line %d: no tab between verdict and rule", n)
		}
		c := Case{Line: n}
		switch {
		case verdict == "ok":
		case strings.HasPrefix(verdict, "reject: "):
			c.Reject = strings.TrimPrefix(verdict, "reject: ")
		default:
			return nil, fmt.Errorf("corpus line %d: verdict %q is neither ok nor reject: <text>", n, verdict)
		}
		text, err := unquote(strings.TrimSpace(rule))
		if err != nil {
			return nil, fmt.Errorf("corpus line %d: %w", n, err)
		}
		c.Rule = text
		out = append(out, c)
	}
	return out, sc.Err()
}

// unquote evaluates `"a" + "b"*3`.
func unquote(s string) (string, error) {
	var b strings.Builder
	for {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", fmt.Errorf("want a quoted string at %q", s)
		}
		part, _ := strconv.Unquote(q)
		s = strings.TrimSpace(s[len(q):])
		times := 1
		if rest, ok := strings.CutPrefix(s, "*"); ok {
			end := 0
			for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
				end++
			}
			if times, err = strconv.Atoi(rest[:end]); err != nil || times < 0 || times > maxRepeat {
				return "", fmt.Errorf("bad repeat count at %q", s)
			}
			s = strings.TrimSpace(rest[end:])
		}
		b.WriteString(strings.Repeat(part, times))
		if s == "" {
			return b.String(), nil
		}
		rest, ok := strings.CutPrefix(s, "+")
		if !ok {
			return "", fmt.Errorf("want + at %q", s)
		}
		s = strings.TrimSpace(rest)
	}
}
