package fntest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestFailedTestPrintsTheFunctionsLogs runs a test that starts a function
// and then fails, and one that passes, in a child process of this test
// binary: the failed one's output ends with the function's last log lines
// (its start, logged at info), the passing one's has none of them.
func TestFailedTestPrintsTheFunctionsLogs(t *testing.T) {
	if mode := os.Getenv("FNTEST_CHILD"); mode != "" {
		srv := fntest.NewServer(t)
		fntest.Run(t, srv, runtime.NewService(runtime.ServiceConfig{Name: "logged", Version: "1.0.0"}))
		if mode == "fail" {
			t.Fatal("failing on purpose")
		}
		return
	}
	for _, mode := range []string{"fail", "pass"} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestFailedTestPrintsTheFunctionsLogs$", "-test.v")
		cmd.Env = append(os.Environ(), "FNTEST_CHILD="+mode, "NATSFN_TEST_LOGS=")
		out, err := cmd.CombinedOutput()
		shown := strings.Contains(string(out), "the functions' last log lines") &&
			strings.Contains(string(out), `msg="connected to NATS"`)
		switch {
		case mode == "fail" && err == nil:
			t.Fatalf("the failing child passed:\n%s", out)
		case mode == "fail" && !shown:
			t.Fatalf("the failed test did not print the function's logs:\n%s", out)
		case mode == "pass" && err != nil:
			t.Fatalf("the passing child failed: %v\n%s", err, out)
		case mode == "pass" && strings.Contains(string(out), "msg="):
			t.Fatalf("a passing test printed the function's logs:\n%s", out)
		}
	}
}
