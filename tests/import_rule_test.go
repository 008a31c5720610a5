package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

const module = "github.com/clustered-video-streams/cvs"

// listed is what `go list -json` says of one package.
type listed struct {
	ImportPath string
	Imports    []string // of the package's non-test files
}

// goList runs `go list -json` with args in the repository and decodes its stream of packages.
func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = testenv.RepoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	var pkgs []listed
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// awsSDK reports whether an import is an AWS service client or smithy (their errors and
// transport): what only the adapters speak.
func awsSDK(imp string) bool {
	return strings.HasPrefix(imp, "github.com/aws/aws-sdk-go-v2/service/") ||
		imp == "github.com/aws/smithy-go" || strings.HasPrefix(imp, "github.com/aws/smithy-go/")
}

// mayImportSDK reports whether a package may import the AWS SDK's services: the adapters, the
// DynamoDB store, the Lambda wiring and mains, and test set-up.
func mayImportSDK(pkg string) bool {
	rel, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return false
	}
	for _, allowed := range []string{"internal/aws", "internal/state/dynamo", "internal/lambdaenv", "internal/testenv", "functions"} {
		if rel == allowed || strings.HasPrefix(rel, allowed+"/") {
			return true
		}
	}
	return strings.HasSuffix(path.Base(rel), "test") // test helpers: snstest, blobtest, ...
}

// sdkImports lists "package imports X" for every import of the SDK outside the allowed packages.
func sdkImports(pkgs []listed) []string {
	var bad []string
	for _, p := range pkgs {
		if mayImportSDK(p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			if awsSDK(imp) {
				bad = append(bad, p.ImportPath+" imports "+imp)
			}
		}
	}
	return bad
}

// TestOnlyAdaptersImportTheAWSSDK: behaviour packages speak the domain (blob, queue, topic, ...);
// an AWS service client or smithy is imported only by the adapters under internal/aws, the
// DynamoDB store, the Lambda wiring (internal/lambdaenv, functions/*) and test set-up.
func TestOnlyAdaptersImportTheAWSSDK(t *testing.T) {
	pkgs := goList(t, "./...")
	if bad := sdkImports(pkgs); len(bad) > 0 {
		t.Errorf("outside the adapters and wiring:\n%s", strings.Join(bad, "\n"))
	}

	t.Run("the rule sees an import it forbids", func(t *testing.T) {
		fake := []listed{{ImportPath: module + "/internal/sweeper", Imports: []string{"context", "github.com/aws/aws-sdk-go-v2/service/s3"}},
			{ImportPath: module + "/internal/mastermerge", Imports: []string{"github.com/aws/smithy-go"}},
			{ImportPath: module + "/internal/aws/s3", Imports: []string{"github.com/aws/aws-sdk-go-v2/service/s3"}},
			{ImportPath: module + "/internal/aws/sns/snstest", Imports: []string{"github.com/aws/aws-sdk-go-v2/service/sns"}}}
		want := []string{module + "/internal/sweeper imports github.com/aws/aws-sdk-go-v2/service/s3", module + "/internal/mastermerge imports github.com/aws/smithy-go"}
		if got := sdkImports(fake); !slices.Equal(got, want) {
			t.Fatalf("sdkImports = %q, want %q", got, want)
		}
	})
	t.Run("every package is listed", func(t *testing.T) {
		for _, want := range []string{"internal/sweeper", "internal/aws/s3", "functions/merge", "cmd/cvsctl"} {
			if !slices.ContainsFunc(pkgs, func(p listed) bool { return p.ImportPath == module+"/"+want }) {
				t.Errorf("go list ./... did not list %s", want)
			}
		}
	})
}

// TestAPIAndCLIDoNotLinkTheMergeSDKs: the API and cvsctl need the merge's request and result
// only (mastermerge/regen), not the S3, CloudFront and Lambda clients of the merge function.
// (cvsctl signs requests, so it links the SDK's credential services; those are not asked about.)
func TestAPIAndCLIDoNotLinkTheMergeSDKs(t *testing.T) {
	for _, pkg := range []string{"internal/api", "internal/api/apiclient", "cmd/cvsctl"} {
		t.Run(pkg, func(t *testing.T) {
			for _, d := range goList(t, "-deps", "./"+pkg) {
				for _, svc := range []string{"s3", "cloudfront", "lambda"} {
					if sdk := "github.com/aws/aws-sdk-go-v2/service/" + svc; d.ImportPath == sdk || strings.HasPrefix(d.ImportPath, sdk+"/") {
						t.Errorf("links %s", d.ImportPath)
					}
				}
			}
		})
	}
}
