package promtext

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
)

// goMetrics are the Go runtime's figures served as go_*, under the names
// client_golang's Go collector gives them (the ones an operator's
// dashboards use most), read from runtime/metrics.
var goMetrics = []struct {
	name, help, typ, key string
}{
	{"go_goroutines", "Number of goroutines that currently exist.", "gauge", "/sched/goroutines:goroutines"},
	{"go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already.", "counter", "/gc/heap/allocs:bytes"},
	{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use.", "gauge", "/memory/classes/heap/objects:bytes"},
	{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", "gauge", "/gc/heap/goal:bytes"},
	{"go_memstats_sys_bytes", "Number of bytes obtained from system.", "gauge", "/memory/classes/total:bytes"},
	{"go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100.", "gauge", "/gc/gogc:percent"},
	{"go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64.", "gauge", "/gc/gomemlimit:bytes"},
	{"go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting.", "gauge", "/sched/gomaxprocs:threads"},
}

// userHZ is the kernel's clock tick for /proc times, 100 on every Linux
// the images run on (procfs, which client_golang uses, assumes it too).
const userHZ = 100

// addRuntime adds the go_* and process_* families.
func addRuntime(fs families) {
	samples := make([]metrics.Sample, len(goMetrics))
	for i, m := range goMetrics {
		samples[i].Name = m.key
	}
	metrics.Read(samples)
	for i, m := range goMetrics {
		var v float64
		switch samples[i].Value.Kind() {
		case metrics.KindUint64:
			v = float64(samples[i].Value.Uint64())
		case metrics.KindFloat64:
			v = samples[i].Value.Float64()
		default:
			continue // not in this Go version
		}
		fs.get(m.name, m.help, m.typ).samples = []sample{{value: v}}
	}
	fs.get("go_info", "Information about the Go environment.", "gauge").samples =
		[]sample{{labels: `version="` + escapeValue(runtime.Version()) + `"`, value: 1}}
	addProcess(fs)
}

// addProcess adds process_* from /proc (Linux); elsewhere it adds none.
func addProcess(fs families) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15, starttime 22,
	// vsize 23, rss 24.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return
	}
	num := func(field int) float64 { v, _ := strconv.ParseFloat(f[field-3], 64); return v }
	add := func(name, help, typ string, v float64) {
		fs.get(name, help, typ).samples = []sample{{value: v}}
	}
	add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", (num(14)+num(15))/userHZ)
	add("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", num(23))
	add("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", num(24)*float64(os.Getpagesize()))
	if boot := bootTime(); boot > 0 {
		add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", boot+num(22)/userHZ)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		add("process_open_fds", "Number of open file descriptors.", "gauge", float64(len(fds)))
	}
	if limit := maxFDs(); limit > 0 {
		add("process_max_fds", "Maximum number of open file descriptors.", "gauge", limit)
	}
}

// bootTime is the btime line of /proc/stat, 0 when unreadable.
func bootTime() float64 { return procField("/proc/stat", "btime ") }

// maxFDs is the soft limit of "Max open files" in /proc/self/limits, 0
// when unreadable or unlimited.
func maxFDs() float64 { return procField("/proc/self/limits", "Max open files") }

// procField is the number that follows prefix on the first line of the
// file that starts with it, 0 when there is none.
func procField(path, prefix string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.ParseFloat(f[0], 64)
				return n
			}
		}
	}
	return 0
}
