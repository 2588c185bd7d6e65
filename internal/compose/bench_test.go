package compose_test

import (
	"strconv"
	"testing"

	"github.com/crieur/crieur/internal/news"
)

// BenchmarkDigest renders one reader's digest of 25 articles, HTML and
// text: the work done once per reader in a digest run.
func BenchmarkDigest(b *testing.B) {
	c := setup(b)
	d := frenchDigest(25)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		e, err := c.Digest(d)
		if err != nil {
			b.Fatal(err)
		}
		size = len(e.HTML) + len(e.Text)
	}
	b.ReportMetric(float64(size), "bytes/email")
}

// BenchmarkDigestCold renders digests whose articles were never rendered
// before (the first reader of each article in a run pays this).
func BenchmarkDigestCold(b *testing.B) {
	c := setup(b)
	d := frenchDigest(25)
	titles := make([]string, len(d.Articles))
	for i, a := range d.Articles {
		titles[i] = a.Title
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		for i := range d.Articles {
			d.Articles[i].Title = titles[i] + strconv.Itoa(n)
		}
		if _, err := c.Digest(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDigestEnglish is BenchmarkDigest in English, weekly.
func BenchmarkDigestEnglish(b *testing.B) {
	c := setup(b)
	d := frenchDigest(25)
	d.Lang, d.Frequency = news.English, news.Weekly
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Digest(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew measures start-up: parsing and CSS inlining.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		setup(b)
	}
}
