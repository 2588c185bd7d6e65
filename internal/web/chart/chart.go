// Package chart draws the desk's pictures as small server-rendered SVG:
// line charts over time and horizontal bars. The SVG is written here by
// hand rather than with a charting library: the desk needs two shapes, a
// title and description screen readers announce, colours from attributes
// the admin CSP allows (no inline style), and text in the reader's
// language; libraries such as go-analyze/charts render their own fonts and
// styles and would add more code than they save. Every picture is shown
// beside a table of the same numbers.
//
// It is pure (no I/O) and imports nothing of crieur.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Series is one line or one kind of bar.
type Series struct {
	Name   string
	Color  string // a CSS colour, e.g. "#1f6feb"
	Values []float64
}

// Line is a line chart: Series over the points named by XLabels.
type Line struct {
	// ID makes the SVG's element ids unique on the page.
	ID          string
	Title, Desc string
	XLabels     []string
	Series      []Series
}

const (
	width, height              = 720, 260
	left, right, top, bottom   = 56, 12, 16, 52
	plotW, plotH               = width - left - right, height - top - bottom
	maxXLabels                 = 6
	barRow, barLeft, barHeight = 28, 220, 18
)

// esc escapes text for SVG (XML) content and attributes.
func esc(s string) string { return template.HTMLEscapeString(s) }

// niceMax is a round upper bound at or above v (at least 1).
func niceMax(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func head(b *strings.Builder, id, title, desc string, h int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-t %s-d">`,
		width, h, esc(id), esc(id))
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
}

// SVG renders the chart.
func (c Line) SVG() template.HTML {
	var b strings.Builder
	head(&b, c.ID, c.Title, c.Desc, height)
	top := 0.0
	n := len(c.XLabels)
	for _, s := range c.Series {
		for _, v := range s.Values {
			top = max(top, v)
		}
		n = max(n, len(s.Values))
	}
	ymax := niceMax(top)
	x := func(i int) float64 {
		if n <= 1 {
			return left
		}
		return left + float64(i)*plotW/float64(n-1)
	}
	y := func(v float64) float64 { return top0 + plotH - v/ymax*plotH }
	// The grid and the y labels: 0, a quarter, ... the top.
	for k := 0; k <= 4; k++ {
		v := ymax * float64(k) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d0d7de" stroke-width="1"/>`, left, width-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="12" text-anchor="end" fill="#57606a">%s</text>`, left-6, y(v)+4, num(v))
	}
	// Some x labels, evenly spaced, and the last.
	if last := len(c.XLabels) - 1; last >= 0 {
		step := max(1, (len(c.XLabels)+maxXLabels-1)/maxXLabels)
		label := func(i int, anchor string) {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12" text-anchor="%s" fill="#57606a">%s</text>`, x(i), top0+plotH+16, anchor, esc(c.XLabels[i]))
		}
		for i := 0; i < last; i += step {
			if last-i >= (step+1)/2 {
				label(i, map[bool]string{true: "start", false: "middle"}[i == 0])
			}
		}
		label(last, "end")
	}
	for _, s := range c.Series {
		if len(s.Values) == 0 {
			continue
		}
		var pts strings.Builder
		for i, v := range s.Values {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(i), y(v))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" points="%s"/>`, esc(s.Color), strings.TrimSpace(pts.String()))
	}
	legend(&b, c.Series, height-14)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// top0 is the plot's top edge.
const top0 = top

func legend(b *strings.Builder, ss []Series, y int) {
	lx := left
	for _, s := range ss {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`, lx, y-10, esc(s.Color))
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" fill="#24292f">%s</text>`, lx+16, y, esc(s.Name))
		lx += 16 + 8*len([]rune(s.Name)) + 24
	}
}

// Bars is a horizontal bar chart: one row per label, the series stacked.
type Bars struct {
	ID          string
	Title, Desc string
	Labels      []string
	Series      []Series
}

// SVG renders the chart.
func (c Bars) SVG() template.HTML {
	var b strings.Builder
	h := top + barRow*max(1, len(c.Labels)) + 40
	head(&b, c.ID, c.Title, c.Desc, h)
	total := 0.0
	for i := range c.Labels {
		row := 0.0
		for _, s := range c.Series {
			if i < len(s.Values) {
				row += s.Values[i]
			}
		}
		total = max(total, row)
	}
	// The longest bar spans the width: bars have no axis to round to.
	xmax := max(total, 1)
	span := float64(width - right - barLeft - 40)
	for i, l := range c.Labels {
		y := top + i*barRow
		r := []rune(l)
		if len(r) > 32 {
			l = string(r[:31]) + "…"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end" fill="#24292f">%s</text>`, barLeft-8, y+barHeight-5, esc(l))
		x := float64(barLeft)
		sum := 0.0
		for _, s := range c.Series {
			if i >= len(s.Values) || s.Values[i] <= 0 {
				continue
			}
			w := s.Values[i] / xmax * span
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x, y, w, barHeight, esc(s.Color))
			x += w
			sum += s.Values[i]
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12" fill="#57606a">%s</text>`, x+6, y+barHeight-5, num(sum))
	}
	legend(&b, c.Series, h-12)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
