package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// web holds the page's templates and its static script and style.
//
//go:embed web
var web embed.FS

// serveStatic serves web/static/{file}. ServeMux has cleaned the path, and
// {file} is one segment, so nothing outside web/static is reachable.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	http.ServeFileFS(w, r, web, "web/static/"+r.PathValue("file"))
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"dur":     formatDuration,
	"clock":   func(t time.Time) string { return t.Local().Format("15:04:05.000") },
	"since":   since,
	"money":   money,
	"payload": payloadText,
	"draw":    draw,
	"ok":      func(s contracts.OrderStatus) bool { return s == contracts.StatusConfirmed },
	"final": func(s contracts.OrderStatus) bool {
		return s == contracts.StatusConfirmed || s == contracts.StatusCancelled
	},
	"milestones": milestones,
}).ParseFS(web, "web/*.html"))

func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(10 * time.Millisecond).String()
}

func since(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

// payloadText shows a payload on one line, cut to a readable length.
func payloadText(b json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	s := buf.String()
	if len(s) > 160 {
		s = s[:157] + "…"
	}
	return s
}

// milestone is one box of the saga strip above an order's timeline.
type milestone struct {
	Label, Event string
	Done, Failed bool
}

// milestones is the happy path, ticked as the order goes; once it turns
// unhappy, the steps it actually took.
func milestones(w orderWatch) []milestone {
	happy := []milestone{
		{Label: "placed", Event: contracts.SubjectOrdersCreated},
		{Label: "stock reserved", Event: contracts.SubjectInventoryReserved},
		{Label: "charged", Event: contracts.SubjectPaymentsCompleted},
		{Label: "confirmed", Event: contracts.SubjectOrdersConfirmed},
	}
	failed := false
	for _, s := range w.Timeline {
		failed = failed || s.Failed()
	}
	if !failed && w.Order.Status != contracts.StatusCancelled {
		for i := range happy {
			for _, s := range w.Timeline {
				happy[i].Done = happy[i].Done || s.Event == happy[i].Event
			}
		}
		return happy
	}
	labels := map[string]string{
		contracts.SubjectInventoryRejected: "stock rejected",
		contracts.SubjectPaymentsFailed:    "payment failed",
		contracts.SubjectOrdersCancelled:   "cancelled",
		contracts.SubjectInventoryReleased: "stock released",
		contracts.SubjectPaymentsRefunded:  "refunded",
	}
	for _, m := range happy {
		labels[m.Event] = m.Label
	}
	var out []milestone
	for _, s := range w.Timeline {
		if slices.ContainsFunc(out, func(m milestone) bool { return m.Event == s.Event }) {
			continue
		}
		out = append(out, milestone{Label: labels[s.Event], Event: s.Event, Done: true, Failed: s.Failed()})
	}
	return out
}

// pageData is the whole page, as first served.
type pageData struct {
	System     *snapshot
	Errors     []string
	Products   []string
	Gateway    *contracts.GatewayReply
	RefreshSec int
}

func render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "render %s: %v", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

// servePage renders the page with what runs now. It renders whatever
// fails too: the failure shows in the page's error box.
func (c *Console) servePage(w http.ResponseWriter, r *http.Request) {
	d := pageData{Products: c.cfg.Products, RefreshSec: 3}
	if s, err := c.system(r.Context()); err != nil {
		d.Errors = append(d.Errors, "what runs: "+err.Error())
	} else {
		d.System = &s
	}
	if g, err := c.gateway(r.Context()); err != nil {
		d.Errors = append(d.Errors, "payment gateway: "+err.Error())
	} else {
		d.Gateway = &g
	}
	render(w, "page.html", d)
}

func (c *Console) viewSystem(w http.ResponseWriter, r *http.Request) {
	s, err := c.system(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	render(w, "system", &s)
}

func (c *Console) viewOrder(w http.ResponseWriter, r *http.Request) {
	o, err := c.watch(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	render(w, "order", o)
}
