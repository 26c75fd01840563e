// Package exporter serves the metrics of NATS servers to Prometheus: at
// every scrape it reads /varz and /jsz (accounts, streams, consumers) from
// each server's monitoring port and reports the figures below. The command
// ./cmd/nats-exporter serves it; compose runs that as the service
// nats-exporter (image natsfn/nats-exporter).
//
// It stands in for prometheus-nats-exporter, whose Go module the module
// proxy here refuses ("403 Forbidden: This module version is not
// available"), as it does nats-surveyor: no exporter of NATS's own could be
// built. It keeps that exporter's metric names, so dashboards written for
// it read these too.
package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The metric names follow prometheus-nats-exporter's (gnatsd_varz_*,
// jetstream_server_*, jetstream_stream_*, jetstream_consumer_*) where it has
// one. Labels are fewer: the server's name and cluster,
// and for streams and consumers whether this server leads them, so a sum
// over {is_stream_leader="true"} counts an R3 stream once.
var (
	serverLabels   = []string{"server_name", "cluster"}
	streamLabels   = append(append([]string{}, serverLabels...), "account", "stream_name", "is_stream_leader")
	consumerLabels = append(append([]string{}, streamLabels...), "consumer_name", "is_consumer_leader")
)

type metric struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
}

func newMetric(name, help string, kind prometheus.ValueType, labels []string) metric {
	return metric{prometheus.NewDesc(name, help, labels, nil), kind}
}

// Every metric the collector exports.
var (
	up = newMetric("nats_server_up", "1 when the server's monitoring port answered this scrape, else 0.",
		prometheus.GaugeValue, []string{"url"})

	varzConnections      = newMetric("gnatsd_varz_connections", "Client connections now.", prometheus.GaugeValue, serverLabels)
	varzTotalConnections = newMetric("gnatsd_varz_total_connections", "Client connections since the server started.", prometheus.CounterValue, serverLabels)
	varzSubscriptions    = newMetric("gnatsd_varz_subscriptions", "Subscriptions now.", prometheus.GaugeValue, serverLabels)
	varzSlowConsumers    = newMetric("gnatsd_varz_slow_consumers", "Clients disconnected for being slow consumers since the server started.", prometheus.CounterValue, serverLabels)
	varzInMsgs           = newMetric("gnatsd_varz_in_msgs", "Messages received (clients, routes).", prometheus.CounterValue, serverLabels)
	varzOutMsgs          = newMetric("gnatsd_varz_out_msgs", "Messages sent (clients, routes).", prometheus.CounterValue, serverLabels)
	varzInBytes          = newMetric("gnatsd_varz_in_bytes", "Bytes received.", prometheus.CounterValue, serverLabels)
	varzOutBytes         = newMetric("gnatsd_varz_out_bytes", "Bytes sent.", prometheus.CounterValue, serverLabels)
	varzMem              = newMetric("gnatsd_varz_mem", "Resident memory of the server process, bytes.", prometheus.GaugeValue, serverLabels)
	varzCPU              = newMetric("gnatsd_varz_cpu", "CPU of the server process, percent of one core.", prometheus.GaugeValue, serverLabels)
	varzRoutes           = newMetric("gnatsd_varz_routes", "Connected routes to other cluster nodes.", prometheus.GaugeValue, serverLabels)

	jsStreams    = newMetric("jetstream_server_total_streams", "Streams on this server.", prometheus.GaugeValue, serverLabels)
	jsConsumers  = newMetric("jetstream_server_total_consumers", "Consumers on this server.", prometheus.GaugeValue, serverLabels)
	jsMessages   = newMetric("jetstream_server_total_messages", "Messages stored on this server.", prometheus.GaugeValue, serverLabels)
	jsBytes      = newMetric("jetstream_server_total_message_bytes", "Bytes of messages stored on this server.", prometheus.GaugeValue, serverLabels)
	jsMaxMemory  = newMetric("jetstream_server_max_memory", "max_memory_store, bytes.", prometheus.GaugeValue, serverLabels)
	jsMaxStorage = newMetric("jetstream_server_max_storage", "max_file_store, bytes.", prometheus.GaugeValue, serverLabels)
	jsMemory     = newMetric("jetstream_server_memory_bytes", "Memory-store bytes in use.", prometheus.GaugeValue, serverLabels)
	jsStorage    = newMetric("jetstream_server_storage_bytes", "File-store bytes in use.", prometheus.GaugeValue, serverLabels)
	jsAPI        = newMetric("jetstream_server_api_requests_total", "JetStream API requests this server received.", prometheus.CounterValue, serverLabels)
	jsAPIErrors  = newMetric("jetstream_server_api_errors_total", "JetStream API requests answered with an error.", prometheus.CounterValue, serverLabels)

	streamMessages  = newMetric("jetstream_stream_total_messages", "Messages in the stream.", prometheus.GaugeValue, streamLabels)
	streamBytes     = newMetric("jetstream_stream_total_bytes", "Bytes in the stream.", prometheus.GaugeValue, streamLabels)
	streamLastSeq   = newMetric("jetstream_stream_last_seq", "Last sequence of the stream.", prometheus.GaugeValue, streamLabels)
	streamConsumers = newMetric("jetstream_stream_consumer_count", "Consumers of the stream.", prometheus.GaugeValue, streamLabels)

	consumerPending     = newMetric("jetstream_consumer_num_pending", "Messages not yet delivered to the consumer.", prometheus.GaugeValue, consumerLabels)
	consumerAckPending  = newMetric("jetstream_consumer_num_ack_pending", "Messages delivered and not yet acknowledged.", prometheus.GaugeValue, consumerLabels)
	consumerRedelivered = newMetric("jetstream_consumer_num_redelivered", "Messages redelivered and not yet acknowledged.", prometheus.GaugeValue, consumerLabels)
	consumerWaiting     = newMetric("jetstream_consumer_num_waiting", "Pull requests waiting.", prometheus.GaugeValue, consumerLabels)
	consumerDelivered   = newMetric("jetstream_consumer_delivered_stream_seq", "Last stream sequence delivered.", prometheus.GaugeValue, consumerLabels)
	consumerAckFloor    = newMetric("jetstream_consumer_ack_floor_stream_seq", "Stream sequence below which everything is acknowledged.", prometheus.GaugeValue, consumerLabels)
)

var allMetrics = []metric{
	up, varzConnections, varzTotalConnections, varzSubscriptions, varzSlowConsumers, varzInMsgs, varzOutMsgs,
	varzInBytes, varzOutBytes, varzMem, varzCPU, varzRoutes,
	jsStreams, jsConsumers, jsMessages, jsBytes, jsMaxMemory, jsMaxStorage, jsMemory, jsStorage, jsAPI, jsAPIErrors,
	streamMessages, streamBytes, streamLastSeq, streamConsumers,
	consumerPending, consumerAckPending, consumerRedelivered, consumerWaiting, consumerDelivered, consumerAckFloor,
}

// varz and jsz are the parts of the server's /varz and /jsz we read
// (nats-server's own types would link the whole server into this binary).
type varz struct {
	Name             string  `json:"server_name"`
	Connections      int     `json:"connections"`
	TotalConnections uint64  `json:"total_connections"`
	Subscriptions    uint32  `json:"subscriptions"`
	SlowConsumers    int64   `json:"slow_consumers"`
	InMsgs           int64   `json:"in_msgs"`
	OutMsgs          int64   `json:"out_msgs"`
	InBytes          int64   `json:"in_bytes"`
	OutBytes         int64   `json:"out_bytes"`
	Mem              int64   `json:"mem"`
	CPU              float64 `json:"cpu"`
	Routes           int     `json:"routes"`
	Cluster          struct {
		Name string `json:"name"`
	} `json:"cluster"`
}

type jsz struct {
	Disabled bool `json:"disabled"`
	Config   struct {
		MaxMemory int64 `json:"max_memory"`
		MaxStore  int64 `json:"max_storage"`
	} `json:"config"`
	Memory    uint64 `json:"memory"`
	Store     uint64 `json:"storage"`
	Streams   int    `json:"streams"`
	Consumers int    `json:"consumers"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	API       struct {
		Total  uint64 `json:"total"`
		Errors uint64 `json:"errors"`
	} `json:"api"`
	Accounts []struct {
		Name    string `json:"name"`
		Streams []struct {
			Name    string       `json:"name"`
			Cluster *clusterInfo `json:"cluster"`
			State   struct {
				Msgs      uint64 `json:"messages"`
				Bytes     uint64 `json:"bytes"`
				LastSeq   uint64 `json:"last_seq"`
				Consumers int    `json:"consumer_count"`
			} `json:"state"`
			Consumers []struct {
				Name      string       `json:"name"`
				Cluster   *clusterInfo `json:"cluster"`
				Delivered struct {
					Stream uint64 `json:"stream_seq"`
				} `json:"delivered"`
				AckFloor struct {
					Stream uint64 `json:"stream_seq"`
				} `json:"ack_floor"`
				NumAckPending  int    `json:"num_ack_pending"`
				NumRedelivered int    `json:"num_redelivered"`
				NumWaiting     int    `json:"num_waiting"`
				NumPending     uint64 `json:"num_pending"`
			} `json:"consumer_detail"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

type clusterInfo struct {
	Leader string `json:"leader"`
}

// leads reports whether server leads an asset (always, without a cluster).
func leads(c *clusterInfo, server string) string {
	return strconv.FormatBool(c == nil || c.Leader == "" || c.Leader == server)
}

// collector scrapes the monitoring ports of servers at every Collect.
type collector struct {
	servers []string
	client  *http.Client
	timeout time.Duration
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range allMetrics {
		ch <- m.desc
	}
}

// Collect asks every server at once; a server that does not answer within
// the timeout shows as nats_server_up 0 and adds nothing else.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for _, url := range c.servers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			v, j, err := c.scrape(ctx, url)
			if err != nil {
				ch <- prometheus.MustNewConstMetric(up.desc, up.kind, 0, url)
				return
			}
			ch <- prometheus.MustNewConstMetric(up.desc, up.kind, 1, url)
			emit(ch, v, j)
		})
	}
	wg.Wait()
}

func (c *collector) scrape(ctx context.Context, url string) (*varz, *jsz, error) {
	v := &varz{}
	if err := c.get(ctx, url+"/varz", v); err != nil {
		return nil, nil, err
	}
	j := &jsz{}
	if err := c.get(ctx, url+"/jsz?accounts=true&streams=true&consumers=true", j); err != nil {
		return nil, nil, err
	}
	return v, j, nil
}

func (c *collector) get(ctx context.Context, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(into)
}

func emit(ch chan<- prometheus.Metric, v *varz, j *jsz) {
	server := []string{v.Name, v.Cluster.Name}
	send := func(m metric, value float64, labels []string) {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, value, labels...)
	}
	send(varzConnections, float64(v.Connections), server)
	send(varzTotalConnections, float64(v.TotalConnections), server)
	send(varzSubscriptions, float64(v.Subscriptions), server)
	send(varzSlowConsumers, float64(v.SlowConsumers), server)
	send(varzInMsgs, float64(v.InMsgs), server)
	send(varzOutMsgs, float64(v.OutMsgs), server)
	send(varzInBytes, float64(v.InBytes), server)
	send(varzOutBytes, float64(v.OutBytes), server)
	send(varzMem, float64(v.Mem), server)
	send(varzCPU, v.CPU, server)
	send(varzRoutes, float64(v.Routes), server)
	if j.Disabled {
		return
	}
	send(jsStreams, float64(j.Streams), server)
	send(jsConsumers, float64(j.Consumers), server)
	send(jsMessages, float64(j.Messages), server)
	send(jsBytes, float64(j.Bytes), server)
	send(jsMaxMemory, float64(j.Config.MaxMemory), server)
	send(jsMaxStorage, float64(j.Config.MaxStore), server)
	send(jsMemory, float64(j.Memory), server)
	send(jsStorage, float64(j.Store), server)
	send(jsAPI, float64(j.API.Total), server)
	send(jsAPIErrors, float64(j.API.Errors), server)
	for _, a := range j.Accounts {
		for _, s := range a.Streams {
			sl := append(append([]string{}, server...), a.Name, s.Name, leads(s.Cluster, v.Name))
			send(streamMessages, float64(s.State.Msgs), sl)
			send(streamBytes, float64(s.State.Bytes), sl)
			send(streamLastSeq, float64(s.State.LastSeq), sl)
			send(streamConsumers, float64(s.State.Consumers), sl)
			for _, c := range s.Consumers {
				cl := append(append([]string{}, sl...), c.Name, leads(c.Cluster, v.Name))
				send(consumerPending, float64(c.NumPending), cl)
				send(consumerAckPending, float64(c.NumAckPending), cl)
				send(consumerRedelivered, float64(c.NumRedelivered), cl)
				send(consumerWaiting, float64(c.NumWaiting), cl)
				send(consumerDelivered, float64(c.Delivered.Stream), cl)
				send(consumerAckFloor, float64(c.AckFloor.Stream), cl)
			}
		}
	}
}

// Handler serves /metrics for the servers' monitoring URLs
// (http://host:8222) and /healthz, which answers 200 while the process
// runs. A scrape waits at most timeout for each server.
func Handler(servers []string, timeout time.Duration) (http.Handler, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("no servers")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("timeout %s is not positive", timeout)
	}
	var urls []string
	for _, u := range servers {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("%q is not an http(s) URL", u)
		}
		urls = append(urls, u)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{servers: urls, client: &http.Client{}, timeout: timeout})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux, nil
}
