package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/mail/mailtest"
)

// serveArticle is one article a newsroom's CMS posts: two per topic, in
// topicSlugs order, posted afresh before every digest repetition.
type serveArticle struct{ title, summary string }

var serveArticles = []serveArticle{
	{"Budget 2027 : le gouvernement engage sa responsabilité sur le volet recettes",
		"La Première ministre a annoncé le recours au 49.3 après trois semaines de débats. Les oppositions déposent une motion de censure qui sera examinée jeudi."},
	{"Municipales : les listes d'union de la gauche se multiplient dans les grandes villes",
		"À quinze mois du scrutin, socialistes, écologistes et insoumis signent des accords locaux à Lyon, Marseille et Lille, malgré les désaccords nationaux."},
	{"Ukraine : nouvelle vague de frappes sur les infrastructures énergétiques",
		"Plus de quarante missiles et drones ont visé la nuit dernière des centrales et des sous-stations. Des coupures d'électricité touchent plusieurs régions."},
	{"Sommet de l'Union africaine : accord sur une force de paix au Sahel",
		"Les chefs d'État réunis à Addis-Abeba ont adopté le principe d'une mission conjointe. Son financement reste à trouver auprès des partenaires européens."},
	{"Inflation : les prix repassent sous la barre des 2 % sur un an en novembre",
		"Selon l'Insee, le recul de l'énergie et des produits frais compense la hausse des services. La BCE pourrait baisser ses taux dès janvier."},
	{"Automobile : le constructeur annonce 3 000 suppressions de postes en Europe",
		"Le groupe invoque la chute des ventes de véhicules électriques et la concurrence chinoise. Les syndicats appellent à la grève sur les sites français."},
	{"Ligue des champions : le PSG arrache sa qualification dans les arrêts de jeu",
		"Menés à la pause, les Parisiens se sont imposés 2-1 grâce à un but à la 94e minute. Ils affronteront un club anglais en huitièmes de finale."},
	{"Tour de France 2027 : un départ de Bretagne et trois arrivées en altitude",
		"Le parcours dévoilé mardi fait la part belle aux grimpeurs, avec un contre-la-montre de 42 kilomètres et une étape finale inédite à Paris."},
	{"Cinéma : le dernier film de la réalisatrice lyonnaise triomphe en salles",
		"Plus d'un million d'entrées en deux semaines pour ce drame familial tourné dans les monts du Lyonnais, un succès rare pour un film d'auteur."},
	{"Le musée d'Orsay rouvre ses salles impressionnistes après deux ans de travaux",
		"La nouvelle scénographie met en lumière des œuvres restées en réserve. Les réservations sont recommandées pour les premières semaines."},
	{"Une mission spatiale européenne détecte de l'eau sous la surface de Mars",
		"Les données du radar confirment la présence de glace à moins de deux mètres de profondeur près de l'équateur, une ressource pour de futures missions."},
	{"Santé : un nouveau traitement réduit de moitié les rechutes du cancer du sein",
		"L'essai clinique mené dans douze pays sur 4 000 patientes a été présenté samedi. Les autorités sanitaires examineront le dossier au printemps."},
	{"Logement : les demandes de HLM atteignent un record de 2,8 millions",
		"La Fondation pour le logement des défavorisés alerte sur l'allongement des délais d'attente, qui dépassent cinq ans en Île-de-France."},
	{"Éducation : la réforme du brevet entre en vigueur dès cette année",
		"Les épreuves écrites compteront désormais pour 60 % de la note finale. Les enseignants dénoncent un calendrier trop serré pour s'y préparer."},
	{"Climat : l'année 2026 en passe de devenir la plus chaude jamais mesurée",
		"Selon Copernicus, la température moyenne mondiale a dépassé de 1,6 °C les niveaux préindustriels. Les océans battent aussi des records."},
	{"Pollution de l'air : Paris étend sa zone à faibles émissions à la petite couronne",
		"Les véhicules Crit'Air 3 seront interdits en semaine dès le 1er juillet. Des aides à la conversion sont prévues pour les ménages modestes."},
}

// digestRep is one digest run of the daemon, API call to state done.
type digestRep struct {
	sent, failed, skipped, recipients int64
	atSink                            int64 // messages the sink received
	wall, toLast                      time.Duration
	rate                              float64 // sent per second, POST → done
	cpuPer, dbPer                     time.Duration
	bytesPer                          float64 // per message at the sink
	rss                               int64
	rawRate                           float64 // raw go-mail, measured right after
	rawCPUPer                         time.Duration
	rawBytesPer                       float64
}

// runServeDigest measures daily digests sent by a `crieur serve` process
// to the SMTP sink process, -reps times, each next to raw go-mail.
func runServeDigest(ctx context.Context, o options) (*section, error) {
	conns := o.smtpConns
	if !o.smtpConnsSet {
		conns = 20
	}
	sink, err := startChild("-sink")
	if err != nil {
		return nil, err
	}
	defer sink.Stop()
	smtpURL := "smtp://" + sink.Addr + "?tls=none"
	dbURL, pm, err := serveDatabase(ctx, o, "serve-digest")
	if err != nil {
		return nil, err
	}
	d, err := startDaemon(ctx, o, "serve-digest", map[string]string{
		"CRIEUR_DATABASE_URL":     dbURL,
		"CRIEUR_SMTP_URL":         smtpURL,
		"CRIEUR_SMTP_CONNECTIONS": strconv.Itoa(conns),
	})
	if err != nil {
		return nil, err
	}
	defer d.stop()
	if err := d.setup(ctx); err != nil {
		return nil, err
	}

	// The readers, as a publisher moves them in: a CSV of confirmed
	// readers through `crieur subscribers import`, timed apart.
	csvPath := filepath.Join(o.tmp, "readers.csv")
	if err := writeReadersCSV(csvPath, o.n); err != nil {
		return nil, err
	}
	t := time.Now()
	out, err := d.cli(ctx, "subscribers", "import", csvPath)
	if err != nil {
		return nil, err
	}
	importWall := time.Since(t)
	if !strings.HasPrefix(out, fmt.Sprintf("imported %d ", o.n)) {
		return nil, fmt.Errorf("subscribers import: %s", strings.TrimSpace(out))
	}
	progress("imported %d readers with `crieur subscribers import` in %v", o.n, dur(importWall))

	rawN := o.rawN
	if rawN <= 0 {
		rawN = min(o.n, 50_000)
	}
	var reps []digestRep
	rssReset := true
	for r := range o.reps {
		// New articles make every reader eligible again: a reader gets only
		// what arrived since their last digest.
		if err := postArticles(ctx, d, r); err != nil {
			return nil, err
		}
		if err := sink.Reset(); err != nil {
			return nil, err
		}
		rssReset = d.resetRSS() && rssReset
		var run struct {
			Recipients   int64 `json:"recipients"`
			Sent         int64 `json:"sent"`
			Failed       int64 `json:"failed"`
			SkippedEmpty int64 `json:"skipped_empty"`
		}
		m, err := d.measure(ctx, pm, sink, "/api/v1/digests/daily/run", nil, "/api/v1/digests/runs/", int64(o.n), &run)
		if err != nil {
			return nil, err
		}
		rep := digestRep{wall: m.wall, sent: run.Sent, failed: run.Failed, skipped: run.SkippedEmpty, recipients: run.Recipients}
		rep.rss = m.rss
		rep.atSink, rep.toLast = m.helper.Count, m.sinceT0(m.helper.LastNS)
		rep.rate = rate(int(run.Sent), rep.wall)
		rep.cpuPer, rep.dbPer = m.perMsg(run.Sent)
		rep.bytesPer = m.helper.avg()

		// Raw go-mail right after, to the same sink, on as many
		// connections, with one of the messages the daemon just sent.
		sample, err := sink.Sample()
		if err != nil {
			return nil, err
		}
		if err := sink.Reset(); err != nil {
			return nil, err
		}
		rc0 := cpuTime()
		if rep.rawRate, err = mailtest.RawGoMailThroughput(ctx, smtpURL, conns, rawN, sample); err != nil {
			return nil, err
		}
		rep.rawCPUPer = (cpuTime() - rc0) / time.Duration(rawN)
		raw, err := sink.Stats()
		if err != nil {
			return nil, err
		}
		rep.rawBytesPer = raw.avg()
		progress("rep %d/%d: %d digests in %v: %.0f msg/s, %.0f µs CPU/msg, %.1f KB/msg; raw go-mail %.0f msg/s, %.0f µs CPU/msg",
			r+1, o.reps, run.Sent, dur(rep.wall), rep.rate, us(rep.cpuPer), rep.bytesPer/1024, rep.rawRate, us(rep.rawCPUPer))
		reps = append(reps, rep)
	}
	return digestSection(o, conns, rawN, importWall, pm != 0, rssReset, reps), nil
}

// digestSection is the report of runServeDigest.
func digestSection(o options, conns, rawN int, importWall time.Duration, hasDB, rssReset bool, reps []digestRep) *section {
	sec := &section{title: fmt.Sprintf("E. The shipped daemon: a daily digest to %d readers through `crieur serve`", o.n)}
	sec.setup = []string{
		fmt.Sprintf("A `crieur serve` process built from ./cmd/crieur (`go build`, CGO_ENABLED=0), database %s, CRIEUR_SMTP_URL to the go-smtp sink process (discards), CRIEUR_SMTP_CONNECTIONS=%d, DKIM: %v; the digest schedules set 12 h away so that no tick fires.", dbName(o), conns, o.dkim),
		fmt.Sprintf("Set up as a publisher does: `crieur topic add` ×8, `crieur token create --role admin`, then %d confirmed daily readers (2–4 of 8 topics each, 80%% French) through `crieur subscribers import readers.csv` (timed apart below).", o.n),
		fmt.Sprintf("Each of the %d repetitions: 16 new articles (2 per topic, published within the last 2 h) through POST /api/v1/articles, so every reader has something new; then POST /api/v1/digests/daily/run and GET /api/v1/digests/runs/{id} until its state is done (every 500 ms, then every 20 ms once the sink has every message). Wall time is from the POST to the answer saying done: the daemon closes a run once its last outcome is recorded, so it includes that and the bench's last poll (20 ms) after the last message.", o.reps),
		"CPU: utime+stime of the crieur process from /proc/PID/stat (10 ms ticks) before the POST and after done: it includes the API requests and polls of the run, not the import or the articles. Peak RSS: VmHWM of the crieur process, reset (clear_refs) before each repetition. Bytes per message: the DATA the sink received.",
		fmt.Sprintf("Baseline, right after each repetition: mailtest.RawGoMailThroughput (go-mail's defaults: NOOP and RSET around each message), %d messages on %d connections to the same sink, each a copy of a message the daemon just sent, picked by the sink as the one closest to the mean size (go-mail parses and re-encodes it, so its wire size is shown too); CPU from getrusage of the bench process, which does nothing else meanwhile.", rawN, conns),
		fmt.Sprintf("Figures are medians of the %d repetitions, the range in brackets; the ratio is of the medians. Everything shares this machine's %d cores (the sink too).", o.reps, o.cores),
	}
	if hasDB {
		sec.setup = append(sec.setup, "PostgreSQL's CPU (postmaster and all its processes, /proc) is measured over the same interval and reported apart.")
	}
	allSent := true
	var sent, failed, skipped, atSink []string
	for _, r := range reps {
		allSent = allSent && r.sent == int64(o.n) && r.failed == 0 && r.atSink == r.sent
		sent = append(sent, strconv.FormatInt(r.sent, 10))
		failed = append(failed, strconv.FormatInt(r.failed, 10))
		skipped = append(skipped, strconv.FormatInt(r.skipped, 10))
		atSink = append(atSink, strconv.FormatInt(r.atSink, 10))
	}
	sec.row("readers imported (`crieur subscribers import`, apart)", fmt.Sprintf("%d in %v (%.0f readers/s, the command's whole run)", o.n, dur(importWall), rate(o.n, importWall)), "", nil)
	sec.row("digests per repetition: sent / failed / skipped (API); received by the sink",
		fmt.Sprintf("%s / %s / %s; %s", strings.Join(sent, ", "), strings.Join(failed, ", "), strings.Join(skipped, ", "), strings.Join(atSink, ", ")), "", ptr(allSent))
	wall, wallR := medianOf(reps, func(r digestRep) float64 { return r.wall.Seconds() })
	toLast, toLastR := medianOf(reps, func(r digestRep) float64 { return r.toLast.Seconds() })
	sec.row("wall time, POST → state done", fmt.Sprintf("%.2f s%s (last message at the sink after %.2f s%s)", wall, wallR, toLast, toLastR), "", nil)
	rateM, rateR := medianOf(reps, func(r digestRep) float64 { return r.rate })
	rawM, rawR := medianOf(reps, func(r digestRep) float64 { return r.rawRate })
	sec.row("**crieur serve, digests/s** (POST → done)", fmt.Sprintf("%.0f%s", rateM, rateR), "", nil)
	sinkRate, sinkRateR := medianOf(reps, func(r digestRep) float64 { return rate(int(r.sent), r.toLast) })
	sec.row("  digests/s, POST → last message at the sink (without closing the run)", fmt.Sprintf("%.0f%s", sinkRate, sinkRateR), "", nil)
	rawCPU, rawCPUR := medianOf(reps, func(r digestRep) float64 { return us(r.rawCPUPer) })
	sec.row("raw go-mail, same sink, connections and message", fmt.Sprintf("%.0f msg/s%s, %.0f µs CPU/msg%s", rawM, rawR, rawCPU, rawCPUR), "", nil)
	ratio := rateM / rawM
	sec.row("**crieur / raw go-mail** (rate)", fmt.Sprintf("%.2f×", ratio), "≥ 0.9× (issue 14)", ptr(ratio >= 0.9))
	cpu, cpuR := medianOf(reps, func(r digestRep) float64 { return us(r.cpuPer) })
	sec.row("**crieur CPU per message**", fmt.Sprintf("%.0f µs%s (%.2f× raw go-mail's)", cpu, cpuR, cpu/rawCPU), "≤ 350 µs (issue 14)", ptr(cpu <= 350))
	if hasDB {
		db, dbR := medianOf(reps, func(r digestRep) float64 { return us(r.dbPer) })
		sec.row("PostgreSQL CPU per message (apart)", fmt.Sprintf("%.0f µs%s", db, dbR), "< 100 µs (issue 14)", ptr(db < 100))
	}
	kb, kbR := medianOf(reps, func(r digestRep) float64 { return r.bytesPer / 1024 })
	rawKB, _ := medianOf(reps, func(r digestRep) float64 { return r.rawBytesPer / 1024 })
	sec.row("message size on the wire (sink)", fmt.Sprintf("%.1f KB%s; raw go-mail's copy %.1f KB", kb, kbR, rawKB), "", nil)
	rss, rssR := medianOf(reps, func(r digestRep) float64 { return float64(r.rss) / (1 << 20) })
	sec.row("peak RSS of crieur serve", fmt.Sprintf("%.0f MB%s%s", rss, rssR, resetNote(rssReset)), "≤ 150 MB (issue 14)", ptr(rss <= 150))
	return sec
}

// writeReadersCSV writes n confirmed daily readers in the import format
// (email,topics,frequency,lang,status), each following 2 to 4 of the
// topics, 80% in French, as the seeder's readers.
func writeReadersCSV(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	fmt.Fprintln(w, "email,topics,frequency,lang,status")
	perm := make([]int, len(topicSlugs))
	topics := make([]string, 0, 4)
	for i := range n {
		for j := range perm {
			perm[j] = j
		}
		topics = topics[:0]
		for j := range 2 + rng.IntN(3) {
			r := j + rng.IntN(len(perm)-j)
			perm[j], perm[r] = perm[r], perm[j]
			topics = append(topics, topicSlugs[perm[j]])
		}
		lang := "fr"
		if i%5 == 4 {
			lang = "en"
		}
		fmt.Fprintf(w, "lecteur.%d@example.org,%s,daily,%s,confirmed\n", i+1, strings.Join(topics, ";"), lang)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// postArticles posts repetition rep's 16 articles through the API, as a
// newsroom's CMS does, published over the last 2 hours.
func postArticles(ctx context.Context, d *serveProc, rep int) error {
	now := time.Now().UTC()
	for i, a := range serveArticles {
		slug := topicSlugs[i/2]
		id := fmt.Sprintf("%d-%02d", rep+1, i+1)
		body := map[string]any{
			"guid":         "cms-" + id,
			"url":          fmt.Sprintf("https://www.news.example.com/%s/2026/12/07/article-%s-%s", slug, id, strings.Repeat("titre-", 6)),
			"title":        a.title,
			"summary":      a.summary,
			"topics":       []string{slug},
			"published_at": now.Add(-time.Duration(len(serveArticles)-i) * 7 * time.Minute).Format(time.RFC3339),
			"image_url":    fmt.Sprintf("https://img.news.example.com/2026/12/%s-1200x675.jpg", id),
			"author":       "La rédaction",
		}
		if err := d.call(ctx, http.MethodPost, "/api/v1/articles", body, nil); err != nil {
			return err
		}
	}
	return nil
}
