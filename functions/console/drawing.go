package console

import (
	"cmp"
	"fmt"
	"slices"
)

// drawing is the topology laid out for SVG: emitting functions on the left,
// events in the middle, consuming handlers on the right.
type drawing struct {
	Width, Height int
	Functions     []box
	Subjects      []box
	Handlers      []box
	Links         []link
}

type box struct {
	X, Y, W, H int
	Label      string
	// Colour is the function's colour index (0..5), -1 for an event.
	Colour int
}

// TextX and TextY place the label inside the box.
func (b box) TextX() int { return b.X + 10 }

// TextY places the label on the box's middle line.
func (b box) TextY() int { return b.Y + b.H/2 + 5 }

type link struct {
	Path   string
	Colour int
	From   string
	Title  string
}

const (
	row     = 34
	boxH    = 26
	top     = 16
	colFn   = 16
	fnW     = 150
	colSubj = 290
	subjW   = 190
	colHand = 600
	handW   = 270
)

// draw lays a topology out. A function sits level with the middle of the
// events it emits, pushed down when it would overlap the one above.
func draw(t topology, fns []function) drawing {
	colour := map[string]int{}
	for i, fn := range fns {
		colour[fn.Name] = i % 6
	}
	for _, e := range t.Edges {
		if _, ok := colour[e.Function]; !ok {
			colour[e.Function] = len(colour) % 6
		}
	}
	var d drawing
	subjY := map[string]int{}
	for i, s := range t.Subjects {
		y := top + i*row
		subjY[s] = y + boxH/2
		d.Subjects = append(d.Subjects, box{X: colSubj, Y: y, W: subjW, H: boxH, Label: s, Colour: -1})
	}
	type emitter struct {
		name string
		mid  int
	}
	var emitters []emitter
	ys := map[string][]int{}
	for _, e := range t.Edges {
		if e.Emits {
			if _, ok := ys[e.Function]; !ok {
				emitters = append(emitters, emitter{name: e.Function})
			}
			ys[e.Function] = append(ys[e.Function], subjY[e.Subject])
		}
	}
	for i := range emitters {
		v := ys[emitters[i].name]
		emitters[i].mid = (slices.Min(v) + slices.Max(v)) / 2
	}
	slices.SortFunc(emitters, func(a, b emitter) int { return cmp.Or(cmp.Compare(a.mid, b.mid), cmp.Compare(a.name, b.name)) })
	fnY := map[string]int{}
	next := top
	for _, em := range emitters {
		y := max(em.mid-boxH/2, next)
		next = y + row
		fnY[em.name] = y + boxH/2
		d.Functions = append(d.Functions, box{X: colFn, Y: y, W: fnW, H: boxH, Label: em.name, Colour: colour[em.name]})
	}
	n := 0
	// Several handlers of a function may emit one subject: one arrow.
	drawn := map[[2]string]bool{}
	for _, e := range t.Edges {
		if e.Emits {
			if drawn[[2]string{e.Function, e.Subject}] {
				continue
			}
			drawn[[2]string{e.Function, e.Subject}] = true
			d.Links = append(d.Links, link{
				Path:   curve(colFn+fnW, fnY[e.Function], colSubj, subjY[e.Subject]),
				Colour: colour[e.Function], From: e.From,
				Title: fmt.Sprintf("%s emits %s (%s)", e.Function, e.Subject, e.From),
			})
			continue
		}
		y := top + n*row
		n++
		d.Handlers = append(d.Handlers, box{X: colHand, Y: y, W: handW, H: boxH,
			Label: e.Function + " · " + e.Handler, Colour: colour[e.Function]})
		d.Links = append(d.Links, link{
			Path:   curve(colSubj+subjW, subjY[e.Subject], colHand, y+boxH/2),
			Colour: colour[e.Function], From: e.From,
			Title: fmt.Sprintf("%s's handler %s consumes %s (%s)", e.Function, e.Handler, e.Subject, e.From),
		})
	}
	d.Width = colHand + handW + 16
	d.Height = max(next, top+len(t.Subjects)*row, top+n*row) + top
	return d
}

// curve is an S-shaped cubic Bézier from one column to the next.
func curve(x1, y1, x2, y2 int) string {
	mx := (x1 + x2) / 2
	return fmt.Sprintf("M%d %d C%d %d, %d %d, %d %d", x1, y1, mx, y1, mx, y2, x2, y2)
}
