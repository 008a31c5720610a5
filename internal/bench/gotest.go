package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Result is one benchmark line of `go test -bench`: its name without the -GOMAXPROCS suffix
// and its metrics by unit (ns/op, B/op, polls/cpu-s, ...).
type Result struct {
	Name    string
	N       int64
	Metrics map[string]float64
}

// Results are the benchmark lines of one run, by name.
type Results map[string]Result

// Metric is the named benchmark's metric, or an error that says which is missing.
func (rs Results) Metric(name, unit string) (float64, error) {
	r, ok := rs[name]
	if !ok {
		return 0, fmt.Errorf("benchmark %s did not run", name)
	}
	v, ok := r.Metrics[unit]
	if !ok {
		return 0, fmt.Errorf("benchmark %s reported no %s", name, unit)
	}
	return v, nil
}

var cpuSuffix = regexp.MustCompile(`-\d+$`)

// ParseBenchmarks reads the benchmark lines of `go test -bench` output and ignores the rest.
func ParseBenchmarks(out []byte) Results {
	rs := Results{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		r := Result{Name: cpuSuffix.ReplaceAllString(f[0], ""), N: n, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			r.Metrics[f[i+1]] = v
		}
		rs[r.Name] = r
	}
	return rs
}

// testBinary compiles the tests of a package (./internal/x) into dir and returns its path.
func (r *Runner) testBinary(ctx context.Context, pkg string) (string, error) {
	bin := filepath.Join(r.tmp, strings.ReplaceAll(strings.TrimPrefix(pkg, "./"), "/", "_")+".test")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	r.progress("compiling the tests of %s", pkg)
	cmd := exec.CommandContext(ctx, r.goCmd(), "test", "-c", "-o", bin, pkg)
	cmd.Dir = r.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go test -c %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// runTests runs a package's compiled tests in the package's directory (so testdata resolves)
// with the given -test.* arguments and extra environment, and returns the output.
func (r *Runner) runTests(ctx context.Context, pkg string, env []string, args ...string) ([]byte, error) {
	bin, err := r.testBinary(ctx, pkg)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = filepath.Join(r.Root, filepath.FromSlash(pkg))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v\n%s", pkg, strings.Join(args, " "), err, tail(out, 2000))
	}
	return out, nil
}

// benchmarks runs the benchmarks matching pattern in pkg at the runner's GOMAXPROCS. When some
// fail, it returns those that ran as well as the error.
func (r *Runner) benchmarks(ctx context.Context, pkg, pattern, benchtime string, env ...string) (Results, error) {
	r.progress("running %s benchmarks %s", pkg, pattern)
	out, err := r.runTests(ctx, pkg, env, "-test.run=^$", "-test.bench="+pattern, "-test.benchmem",
		"-test.benchtime="+benchtime, "-test.cpu="+strconv.Itoa(r.Procs), "-test.timeout=3m")
	if err != nil {
		if m := failLine.Find(out); m != nil {
			err = fmt.Errorf("%s: %s", pkg, bytes.TrimSpace(m))
		}
	}
	return ParseBenchmarks(out), err
}

// failLine is the first message of a failed benchmark (the line after its --- FAIL).
var failLine = regexp.MustCompile(`(?m)^--- FAIL: .*\n\s+.*$`)

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
