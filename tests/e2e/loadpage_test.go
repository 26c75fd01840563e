package e2e

// reportHTML is the report's index.html, executed with a loadReport.
const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>natsfn load report, {{short .Commit}}{{if .Dirty}} (dirty){{end}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 80rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }
th { background: #f3f3f3; }
th:first-child, td:first-child, .kv td { text-align: left; }
#steps td:nth-child(2) { text-align: left; }
code { background: #f3f3f3; padding: 0 .2rem; }
img { max-width: 100%; display: block; margin: 1rem 0; }
</style>
</head>
<body>
<h1>natsfn load report</h1>
<p>The order flow in one process, as <code>make run</code> has it: an embedded nats-server with JetStream
and the orders, inventory and payments functions, loaded by <code>BenchmarkOrderFlow</code> from the same
process. Each order is one item of one of 20 products. Latency is the time from <code>orders.create</code>
sent to <code>orders.confirmed</code> seen; every order placed was confirmed, or there would be no report.</p>

<h2>Runs</h2>
<table id="runs">
<tr><th>offered</th><th>placed for</th><th>orders</th><th>sent/s</th><th>max late</th><th>confirmed/s</th>
<th>p50</th><th>p99</th><th>p99.9</th><th>max</th>
<th>CPU per order</th><th>cores busy</th>
{{- if .CPUSplit}}{{range parts}}<th>{{.}}</th>{{end}}{{end}}<th>load average at start</th></tr>
{{range .Rows -}}
<tr id="{{.Slug}}"><td>{{.Label}}</td><td>{{.Duration}}</td><td>{{.Orders}}</td><td>{{num .Sent}}</td><td>{{ms .Late}} ms</td>
<td><b>{{num .Confirmed}}</b></td><td>{{ms .Latency.P50}} ms</td><td><b>{{ms .Latency.P99}} ms</b></td><td>{{ms .Latency.P999}} ms</td><td>{{ms .Latency.Max}} ms</td>
<td><b>{{us .CPU}} µs</b></td><td>{{dec .CoresBusy}}</td>
{{- range .Parts}}<td>{{if .Known}}{{us .PerOrder}} µs ({{pct .Share}}){{else}}n/a{{end}}</td>{{end}}<td>{{.LoadAvg}}</td></tr>
{{end -}}
</table>
<p><b>sent/s</b> is the load as offered; <b>max late</b> is how far the generator fell behind its schedule
(at a fixed rate, order <i>i</i> is due at <i>i</i>/rate; latency counts from when it was really sent, so a
large figure here means the latencies are understated). At full speed the callers each wait only for the
create reply, not the confirmation, so orders queue inside the flow and the latency there is queueing.</p>
<p><b>CPU per order</b> is the process's CPU time (getrusage: user + system) from the first order sent to the
last confirmed, over the orders: it counts the server, the functions and the load generator, which share one
process and the machine's cores; <b>cores busy</b> is that CPU time over the run's time.
{{- if .CPUSplit}} The split by part comes from a 100 Hz CPU profile of the run whose goroutines carry a label
per part: <i>server</i> is the embedded nats-server (its client connections and JetStream's stores),
<i>functions</i> the runtime, the three functions and their nats.go clients, <i>load generator</i> the
benchmark's client, and <i>unattributed</i> the Go runtime's own goroutines (the GC's background workers),
which the three parts share, as they share one heap. The percentages are shares of the profile's samples.
The profiles are in {{range $i, $r := .Rows}}{{if $r.ProfileFile}}{{if $i}}, {{end}}<a href="{{$r.ProfileFile}}">{{$r.ProfileFile}}</a>{{end}}{{end}}:
<code>go tool pprof -top -tagfocus natsfn.part=functions</code> and the file shows where the functions' time
goes (<code>=server</code>, <code>="load generator"</code>: the others'; the server's stream and consumer
goroutines carry nats-server's own labels instead, <code>-tagfocus stream=.</code>).
{{- else}} The runs were not profiled, so there is no split between the server and the functions; in one
process only a CPU profile can tell them apart.{{end}}</p>

<h2>Where an order's time goes</h2>
<table id="steps">
<tr><th>step</th><th>what runs in it</th>{{range .Rows}}<th>{{.Label}}: p50</th><th>p90</th><th>p99</th>{{end}}</tr>
{{range $i, $s := steps -}}
<tr><td>{{$s.Name}}</td><td>{{$s.Who}}</td>
{{- range $.Rows}}{{with step . $i}}<td>{{ms .P50}} ms</td><td>{{ms .P90}} ms</td><td>{{ms .P99}} ms</td>{{else}}<td colspan="3">n/a</td>{{end}}{{end}}</tr>
{{end -}}
</table>
<p>Each order's time cut at the moments between its steps: sent by the load generator, and the four
events stored by JetStream (each event's stream timestamp; the server runs in this process, on the same
clock). A step's time is the work of the function that ends it, its JetStream writes each awaited, and
its waits for a worker and for the CPU. The steps' percentiles do not add up to the latency's: each is
taken over the orders on its own. What follows the last step, the caller seeing orders.confirmed, is
not one: the server hands the event to its subscribers and to the stream apart.</p>

<h2>Plots</h2>
<img src="throughput.svg" alt="orders sent and confirmed per second over time, every run">
<img src="latency-distribution.svg" alt="latency by percentile, every run">
{{range .Rows}}<img src="{{.OverTimeFile}}" alt="p50, p99 and p99.9 over time, {{.Label}}">
{{end -}}
<p>Windows are {{.Window}} wide, and an order counts in the window it was confirmed in. The p99.9 of a window
of fewer than 1,000 orders is close to its maximum. Each order's times are in
{{range $i, $r := .Rows}}{{if $i}}, {{end}}<a href="{{$r.SamplesFile}}">{{$r.SamplesFile}}</a>{{end}}.</p>

<h2>How it was made</h2>
<table class="kv" id="provenance">
<tr><td>command</td><td><code>{{.Command}}</code></td></tr>
<tr><td>test binary arguments</td><td><code>{{.Args}}</code></td></tr>
<tr><td>commit</td><td><code>{{.Commit}}</code>{{if .Dirty}} with uncommitted changes (dirty){{end}}</td></tr>
<tr><td>started</td><td>{{utc .Started}}</td></tr>
<tr><td>warm-up</td><td>{{.Warmup}} orders placed and confirmed before each run, not measured; each run on a fresh server</td></tr>
</table>

<h2>Machine</h2>
<table class="kv" id="machine">
<tr><td>CPU</td><td>{{.Machine.CPU}}</td></tr>
<tr><td>cores</td><td>{{.Machine.CPUs}} logical, GOMAXPROCS {{.Machine.GOMAXPROCS}}</td></tr>
<tr><td>memory</td><td>{{.Machine.Memory}}</td></tr>
<tr><td>OS</td><td>{{.Machine.OS}}, kernel {{.Machine.Kernel}}</td></tr>
<tr><td>Go</td><td>{{.Machine.Go}}</td></tr>
<tr><td>load average</td><td>{{(index .Runs 0).LoadAvg}} at the start, {{.LoadAvgEnd}} at the end (1, 5 and 15 minutes); other work on the machine shares its cores</td></tr>
</table>
</body>
</html>
`
