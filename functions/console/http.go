package console

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// maxBody bounds what a page may post; orders.create takes at most 1 MiB.
const maxBody = 1 << 20

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.servePage)
	mux.HandleFunc("GET /static/{file}", serveStatic)
	mux.HandleFunc("GET /view/system", c.viewSystem)
	mux.HandleFunc("GET /view/order/{id}", c.viewOrder)

	mux.HandleFunc("GET /api/system", c.apiSystem)
	mux.HandleFunc("POST /api/orders", c.apiPlace)
	mux.HandleFunc("GET /api/orders/{id}", c.apiOrder)
	mux.HandleFunc("POST /api/orders/{id}/cancel", c.apiCancel)
	mux.HandleFunc("GET /api/orders/{id}/events", c.serveEvents)
	mux.HandleFunc("GET /api/stock/{product}", c.apiStock)
	mux.HandleFunc("GET /api/gateway", c.apiGateway)
	mux.HandleFunc("POST /api/gateway", c.apiSetGateway)
	mux.HandleFunc("GET /api/deadletters/{fn}", c.apiDeadLetters)
	mux.HandleFunc("POST /api/deadletters/{fn}/replay", c.apiReplay)
	return secure(mux)
}

// secure sets the headers that keep the page to itself: its own scripts
// and styles only, never framed.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with the error as JSON: {"status","subject","error"}.
func writeError(w http.ResponseWriter, err error) {
	e, ok := errors.AsType[*apiError](err)
	if !ok {
		e = &apiError{Status: http.StatusInternalServerError, Message: err.Error()}
	}
	writeJSON(w, e.Status, e)
}

// reply writes v, or the error.
func reply[T any](w http.ResponseWriter, v T, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// body reads a posted JSON body. Asking for application/json is what
// keeps another site's plain form from placing orders: a browser sends
// that content type across origins only after a CORS preflight, which the
// console never grants.
func body(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return nil, errorf(http.StatusUnsupportedMediaType, "send the request as application/json")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, errorf(http.StatusRequestEntityTooLarge, "the request is over %d bytes", maxBody)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "read the request: %v", err)
	}
	return b, nil
}

func (c *Console) apiSystem(w http.ResponseWriter, r *http.Request) {
	s, err := c.system(r.Context())
	reply(w, s, err)
}

func (c *Console) apiPlace(w http.ResponseWriter, r *http.Request) {
	b, err := body(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	key := r.Header.Get(headerIdempotencyKey)
	if key != "" && !validIdempotencyKey(key) {
		writeError(w, errorf(http.StatusBadRequest, "Idempotency-Key: give 1 to %d visible ASCII characters", maxIdempotencyKey))
		return
	}
	p, err := c.placeOrder(r.Context(), b, key)
	reply(w, p, err)
}

func (c *Console) apiOrder(w http.ResponseWriter, r *http.Request) {
	o, err := c.watch(r.Context(), r.PathValue("id"))
	reply(w, o, err)
}

func (c *Console) apiCancel(w http.ResponseWriter, r *http.Request) {
	if _, err := body(w, r); err != nil {
		writeError(w, err)
		return
	}
	o, err := c.cancelOrder(r.Context(), r.PathValue("id"))
	reply(w, o, err)
}

func (c *Console) apiStock(w http.ResponseWriter, r *http.Request) {
	s, err := c.stock(r.Context(), r.PathValue("product"))
	reply(w, s, err)
}

func (c *Console) apiGateway(w http.ResponseWriter, r *http.Request) {
	g, err := c.gateway(r.Context())
	reply(w, g, err)
}

func (c *Console) apiSetGateway(w http.ResponseWriter, r *http.Request) {
	b, err := body(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	g, err := c.setGateway(r.Context(), b)
	reply(w, g, err)
}

func (c *Console) apiDeadLetters(w http.ResponseWriter, r *http.Request) {
	d, err := c.deadLetters(r.Context(), r.PathValue("fn"))
	reply(w, d, err)
}

func (c *Console) apiReplay(w http.ResponseWriter, r *http.Request) {
	b, err := body(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req struct {
		Seq json.Number `json:"seq"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		writeError(w, errorf(http.StatusBadRequest, `give {"seq":N}: %v`, err))
		return
	}
	seq, err := strconv.ParseUint(req.Seq.String(), 10, 64)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, `give {"seq":N}: %q is not a sequence`, req.Seq))
		return
	}
	res, err := c.replay(r.Context(), r.PathValue("fn"), seq)
	reply(w, res, err)
}
