package chart_test

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/web/chart"
)

// wellFormed parses svg as XML and counts its elements by name.
func wellFormed(t *testing.T, svg string) map[string]int {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	n := map[string]int{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			n[se.Name.Local]++
		}
	}
}

func TestLine(t *testing.T) {
	t.Parallel()
	var labels []string
	for i := range 90 {
		labels = append(labels, "d"+string(rune('0'+i%10)))
	}
	svg := string(chart.Line{ID: "readers", Title: `Lecteurs <script>alert("x")</script>`, Desc: "90 jours", XLabels: labels,
		Series: []chart.Series{{Name: "Confirmations", Color: "#1f6feb", Values: make([]float64, 90)},
			{Name: "Désinscriptions", Color: "#cf222e", Values: []float64{3, 1, 4, 1, 5}}}}.SVG())
	n := wellFormed(t, svg)
	if n["polyline"] != 2 || n["title"] != 1 || n["desc"] != 1 || strings.Contains(svg, "<script") {
		t.Errorf("elements %v", n)
	}
	if !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, `aria-labelledby="readers-t readers-d"`) {
		t.Errorf("not announced as an image with its title: %s", svg[:300])
	}
	if n["text"] > 5+7+2 { // y labels, at most 7 x labels, the legend
		t.Errorf("%d labels: too many to read", n["text"])
	}
}

func TestBars(t *testing.T) {
	t.Parallel()
	svg := string(chart.Bars{ID: "run", Title: "Clics", Desc: "par article", Labels: []string{"Un titre très long qui dépasse largement la place prévue", "Court"},
		Series: []chart.Series{{Name: "Lecteurs", Color: "#1f6feb", Values: []float64{7, 0}}, {Name: "Robots", Color: "#8c959f", Values: []float64{2, 1}}}}.SVG())
	n := wellFormed(t, svg)
	// Two bars for the first row, one for the second (zero is not drawn),
	// two legend swatches.
	if n["rect"] != 5 || !strings.Contains(svg, ">9<") || !strings.Contains(svg, "…") {
		t.Errorf("elements %v\n%s", n, svg)
	}
	// An empty chart is still a picture.
	wellFormed(t, string(chart.Bars{ID: "empty", Title: "Rien"}.SVG()))
	wellFormed(t, string(chart.Line{ID: "empty", Title: "Rien"}.SVG()))
}
