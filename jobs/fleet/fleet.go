// Package fleet is battlake's model of the fleet's master data (seed
// section 2): sites, battery models, UPS and rectifier systems, strings,
// every jar ever installed (with its hidden physics.JarLife), environmental
// sensors, users and ML model registry rows. It is pure, deterministic and
// in memory: Build(Options) is a function of the root seed, the scenario end,
// the site selection and the profile mix, and performs no I/O. Other jobs
// map its entities to table rows (fields mirror the seed's columns; see
// types.go for the value conventions) and drive the simulators with the
// non-column fields (Climate, LoadA, Life ...).
//
// Horizon and End: the structure of the fleet (commissioning dates, install
// dates, every jar's life, serials, commissioning measurements, user
// accounts) is laid out against the fixed structural Horizon, never against
// the scenario end, so one seed is one fleet whatever the End: a backfill
// of January and one of February build the same entities. Options.End only
// cuts that fleet: an entity installed (commissioned, created) on or after
// End does not exist yet and is left out, a slot's replacement chain stops
// with the jar in service at End, and the state fields (Status, ReplacedDate,
// Removed, UpdatedAt, IsActive, admins' LocationIDs) describe the fleet as
// of End. A fleet built to an earlier End is therefore exactly the part of a
// later one that existed then, with the state of that day. (Exception: the
// ml_model placeholders, which describe the registry at End; see
// buildMLModels.)
//
// Randomness: every draw comes from a local generator seeded by
// physics.Mix(root, hashes of "fleet", the entity's kind and code ...), so
// an entity depends only on the root seed and its own code (plus its
// parents), never on which other sites are built or in what order. Building a subset of the
// sites yields exactly the corresponding entities of the full fleet (users
// aside: LocationIDs of admins list the sites built).
//
// Scale (seed 8.1): 9 sites, each with one rectifier bank (3 strings) and one
// or two UPS systems (6 strings), 24 jars per string: 81 strings and 1,944
// jars in service on any day from the last string's install on. Every site
// is commissioned in 2012-2023 and nothing is installed later than a year
// before Horizon (2025-11-01), so any End after 2025-11-01 (End-1 day on or
// after it) has the whole fleet in service on its last day; an earlier End
// has fewer sites, systems and strings (possibly none), each present string
// holding its 24 jars. Codes follow the seed: DC-CNX-01,
// DC-CNX-UPS-01, DC-CNX-UPS-01-S1, DC-CNX-UPS-01-S1-J12 (replacements add
// -R1, -R2 ...), DC-CNX-01-ENV-01. System numbers are city-wide (site nn
// owns UPS 2nn-1, 2nn and REC nn), so Bangkok's two sites do not collide.
//
// Jar history: each of the 24 slots of a string gets its first jar on the
// string's install day. A jar leaves when the operator's evidence says so
// (ops.go: a failure alarm, an ohmic survey, a swollen case, a capacity
// test, a whole-string replacement) after a procurement delay, never at
// its hidden end of life; the next generation, with its own life draw, is
// installed that same day. Each generation's draws come from (slot,
// generation) alone and each operational event's from (string, event,
// time), so the history is the same for every End; it is cut at End (a jar
// removed on or after End is in service at End).
package fleet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/battlake/battlake/physics"
	"github.com/google/uuid"
)

const (
	oneDay         = 24 * time.Hour
	jarsPerString  = 24
	timezone       = "Asia/Bangkok"
	maxGenerations = 1000 // guard: a slot never holds this many jars
)

// Horizon is the fleet's fixed structural horizon, 2026-11-01 UTC (the
// project's default scenario end). Commissioning windows and install dates
// are drawn and clipped against it, never against Options.End, so that the
// same seed builds the same entities for every End: every system and string
// is installed by Horizon minus 365 days (2025-11-01) and every site is
// commissioned in 2012-2023. System.RectifierWear is the wear at Horizon.
// It is a variable only because Go has no time constants: treat it as a
// constant (changing it changes every fleet).
var Horizon = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// Options configures Build.
type Options struct {
	RootSeed uint64
	// Sites lists location codes to include; empty means all nine.
	Sites []string
	// End is the scenario end (exclusive, UTC midnight). It does not shape
	// the fleet (see Horizon): it leaves out what is installed, commissioned
	// or created on or after End, cuts the replacement chains there and sets
	// the state fields (status, replaced date, updated_at ...) as of End.
	End time.Time
	// Mix is the degradation-profile mix (healthy, accelerated, failing);
	// the zero value means physics.FleetMix.
	Mix [3]float64
}

// SiteCodes returns the nine location codes in canonical order.
func SiteCodes() []string {
	out := make([]string, len(siteDefs))
	for i, d := range siteDefs {
		out[i] = d.code
	}
	return out
}

func siteIndex(code string) int {
	for i, d := range siteDefs {
		if d.code == code {
			return i
		}
	}
	return -1
}

// Validate checks the options.
func (o Options) Validate() error {
	var errs []error
	if o.End.IsZero() {
		errs = append(errs, errors.New("fleet: End is zero (set the scenario end, a UTC midnight)"))
	} else if !o.End.Equal(truncDay(o.End)) {
		errs = append(errs, fmt.Errorf("fleet: End %s is not a UTC midnight", o.End.Format(time.RFC3339)))
	}
	seen := map[string]bool{}
	for _, c := range o.Sites {
		if siteIndex(c) < 0 {
			errs = append(errs, fmt.Errorf("fleet: unknown site code %q (valid codes: %s)", c, strings.Join(SiteCodes(), ", ")))
		} else if seen[c] {
			errs = append(errs, fmt.Errorf("fleet: site code %q listed twice", c))
		}
		seen[c] = true
	}
	if o.Mix != ([3]float64{}) {
		sum := 0.0
		for _, m := range o.Mix {
			if m < 0 || math.IsNaN(m) {
				errs = append(errs, fmt.Errorf("fleet: profile mix %v has a negative share", o.Mix))
				break
			}
			sum += m
		}
		if math.Abs(sum-1) > 1e-6 {
			errs = append(errs, fmt.Errorf("fleet: profile mix %v sums to %g, want 1", o.Mix, sum))
		}
	}
	return errors.Join(errs...)
}

// Fleet is the built master data. Slices are in canonical order (sites
// north to south; systems, strings and sensors by site then code; users
// admins first) except Batteries, which is sorted by ID bytes (the battery
// table's sort key).
type Fleet struct {
	Seed uint64
	End  time.Time
	Mix  [3]float64 // the mix used (FleetMix if Options.Mix was zero)

	Models    []*BatteryModel
	Sites     []*Site
	Systems   []*System
	Strings   []*String
	Batteries []*Battery // every jar ever installed, incl. replaced ones
	Sensors   []*Sensor
	Users     []*User
	MLModels  []*MLModel

	ModelByID     map[uuid.UUID]*BatteryModel
	SiteByID      map[uuid.UUID]*Site
	SystemByID    map[uuid.UUID]*System
	StringByID    map[uuid.UUID]*String
	BatteryByID   map[uuid.UUID]*Battery
	SensorByID    map[uuid.UUID]*Sensor
	UserByID      map[uuid.UUID]*User
	MLModelByID   map[uuid.UUID]*MLModel
	SiteByCode    map[string]*Site
	BatteryByCode map[string]*Battery

	// jarsByString: every jar of a string ordered by (position, generation).
	jarsByString map[uuid.UUID][]*Battery
}

// BatteriesActiveOn returns the jars in service on day (UTC date of day):
// InstalledDate <= day < Removed, sorted by ID.
func (f *Fleet) BatteriesActiveOn(day time.Time) []*Battery {
	var out []*Battery
	for _, b := range f.Batteries {
		if b.ActiveOn(day) {
			out = append(out, b)
		}
	}
	return out
}

// StringJarsOn returns the jars of a string in service on day, ordered by
// position (24 of them once the string is installed).
func (f *Fleet) StringJarsOn(stringID uuid.UUID, day time.Time) []*Battery {
	var out []*Battery
	for _, b := range f.jarsByString[stringID] {
		if b.ActiveOn(day) {
			out = append(out, b)
		}
	}
	return out
}

// StringJars returns every jar that ever sat in a string, ordered by
// position then generation.
func (f *Fleet) StringJars(stringID uuid.UUID) []*Battery {
	return slices.Clone(f.jarsByString[stringID])
}

// Technicians returns the active field staff (engineers and operators)
// assigned to a site.
func (f *Fleet) Technicians(siteID uuid.UUID) []*User {
	var out []*User
	for _, u := range f.Users {
		if (u.Role == RoleEngineer || u.Role == RoleOperator) && u.IsActive && slices.Contains(u.LocationIDs, siteID) {
			out = append(out, u)
		}
	}
	return out
}

// Admins returns the admin users.
func (f *Fleet) Admins() []*User {
	var out []*User
	for _, u := range f.Users {
		if u.Role == RoleAdmin {
			out = append(out, u)
		}
	}
	return out
}

// MLModelByName returns the registry row with that name (nil if none).
func (f *Fleet) MLModelByName(name string) *MLModel {
	for _, m := range f.MLModels {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// IDs and seeds

// idBase is the namespace of all battlake fleet ids.
var idBase = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/battlake/battlake/jobs/fleet"))

// ID is the deterministic id of an entity: a name-based (version 5, SHA-1)
// UUID of "kind/code" in a namespace derived from the root seed. The same
// seed gives the same ids; another seed gives other ids.
func ID(root uint64, kind, code string) uuid.UUID {
	return newIDer(root).id(kind, code)
}

type ider struct{ ns uuid.UUID }

func newIDer(root uint64) ider {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], root)
	return ider{uuid.NewSHA1(idBase, b[:])}
}

func (g ider) id(kind, code string) uuid.UUID {
	return uuid.NewSHA1(g.ns, []byte(kind+"/"+code))
}

// seedOf derives a seed from the root and labels. The leading "fleet" label
// keeps these streams apart from those other jobs derive from the same root
// and entity codes (e.g. Mix(root, "jar", code) for telemetry noise).
func seedOf(root uint64, labels ...string) uint64 {
	parts := make([]uint64, 1, len(labels)+1)
	parts[0] = physics.HashString("fleet")
	for _, l := range labels {
		parts = append(parts, physics.HashString(l))
	}
	return physics.Mix(root, parts...)
}

func rngOf(root uint64, labels ...string) *rand.Rand {
	return physics.NewRand(seedOf(root, labels...))
}

// ---------------------------------------------------------------------------
// small helpers

func truncDay(t time.Time) time.Time { return t.UTC().Truncate(oneDay) }

func addDays(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// officeTime is a timestamp on day d during Bangkok office hours
// (09:00-17:00 ICT = 02:00-10:00 UTC), to the second.
func officeTime(d time.Time, r *rand.Rand) time.Time {
	return truncDay(d).Add(2*time.Hour + time.Duration(r.IntN(8*3600))*time.Second)
}

func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// intBetween draws an integer in [lo, hi].
func intBetween(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

func weighted(r *rand.Rand, w []float64) int {
	u := r.Float64()
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// ---------------------------------------------------------------------------
// Build

// Build builds the fleet.
func Build(o Options) (*Fleet, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b := &builder{
		root: o.RootSeed,
		ids:  newIDer(o.RootSeed),
		end:  o.End,
		mix:  o.Mix,
		f:    &Fleet{Seed: o.RootSeed, End: o.End},
	}
	if b.mix == ([3]float64{}) {
		b.mix = physics.FleetMix
	}
	b.f.Mix = b.mix
	// Nothing is installed later than a year before the horizon, so the
	// whole fleet is in service over the year before it (and after).
	b.latest = addDays(Horizon, -365)

	include := make([]bool, len(siteDefs))
	if len(o.Sites) == 0 {
		for i := range include {
			include[i] = true
		}
	}
	for _, c := range o.Sites {
		include[siteIndex(c)] = true
	}

	b.buildModels()
	comm := commissioning(o.RootSeed, Horizon)
	for i, d := range siteDefs {
		// A site commissioned on or after End does not exist yet (nor do
		// its systems, strings, jars and sensors, all installed later).
		if include[i] && comm[i].Before(o.End) {
			b.buildSite(d, comm[i])
		}
	}
	b.buildUsers(comm, include)
	b.buildMLModels()
	b.index()
	return b.f, nil
}

type builder struct {
	root   uint64
	ids    ider
	end    time.Time // Options.End: filters and sets state, never shapes
	latest time.Time // latest install day of any system or string (from Horizon)
	mix    [3]float64
	f      *Fleet
}

func (b *builder) buildModels() {
	for _, d := range modelDefs {
		s := d.spec
		b.f.Models = append(b.f.Models, &BatteryModel{
			ID:                b.ids.id("battery_model", s.Name),
			Name:              s.Name,
			Manufacturer:      s.Manufacturer,
			Chemistry:         "VRLA",
			NominalV:          s.NominalV,
			CapacityAh:        s.CapacityAh,
			FloatMinV:         s.FloatMinV,
			FloatMaxV:         s.FloatMaxV,
			BoostMinV:         s.BoostMinV,
			BoostMaxV:         s.BoostMaxV,
			MaxChargeA:        s.MaxChargeA,
			TempWarnC:         s.TempWarnC,
			TempCritC:         s.TempCritC,
			ExpectedLifeYears: s.ExpectedLifeYears,
			DatasheetURL:      d.datasheet,
			Spec:              s,
			WarrantyYears:     d.warrantyYears,
		})
	}
}

// commissioning draws the nine sites' commissioning dates, stratified over
// 2012-2023 (one site per ninth of the window, strata shuffled) so that the
// fleet holds jars of every age. Every date is at least 425 days before the
// horizon (a year in service plus room for system installs); were the
// horizon early, the window would shrink to the two years before that
// bound. Build passes Horizon, never the scenario end.
func commissioning(root uint64, horizon time.Time) [len(siteDefs)]time.Time {
	lo := time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)
	hi := minTime(time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC), addDays(horizon, -425))
	if hi.Sub(lo) < 2*365*oneDay {
		lo = hi.AddDate(-2, 0, 0)
	}
	r := rngOf(root, "commissioning")
	perm := r.Perm(len(siteDefs))
	span := float64(hi.Sub(lo))
	var out [len(siteDefs)]time.Time
	for i := range siteDefs {
		f := (float64(perm[i]) + r.Float64()) / float64(len(siteDefs))
		out[i] = truncDay(lo.Add(time.Duration(f * span)))
	}
	return out
}

func (b *builder) buildSite(d siteDef, commissioned time.Time) {
	r := rngOf(b.root, "location", d.code)
	setpoint := d.setpoint + 0.5*float64(r.IntN(3)-1)
	setpoint = math.Max(22, math.Min(27, setpoint))
	site := &Site{
		ID:               b.ids.id("location", d.code),
		Code:             d.code,
		Name:             d.name,
		Region:           d.region,
		City:             d.city,
		Latitude:         d.lat,
		Longitude:        d.lon,
		Timezone:         timezone,
		CommissionedDate: commissioned,
		IsActive:         true,
		CreatedAt:        officeTime(addDays(commissioned, -intBetween(r, 14, 60)), r),
		Climate: physics.Climate{
			OutdoorMeanC:      d.outdoorMean,
			OutdoorSeasonAmpC: d.seasonAmp,
			OutdoorDailyAmpC:  d.dailyAmp,
			RoomSetpointC:     setpoint,
			RoomCouplingC:     d.coupling,
			HumidityMeanPct:   d.humidity,
			HVACFaultsPerYear: round(uniform(r, 2, 6), 1),
		},
	}
	site.UpdatedAt = site.CreatedAt
	b.f.Sites = append(b.f.Sites, site)

	// Systems. System numbers are city-wide so that codes keep the seed's
	// DC-XXX-UPS-NN form and stay unique when a city has two sites: site
	// DC-XXX-nn owns UPS numbers 2nn-1 and 2nn and rectifier number nn.
	city, num := d.code[:6], 0
	fmt.Sscanf(d.code[7:], "%d", &num)
	nUPS := 1
	if r.Float64() < 0.5 {
		nUPS = 2
	}
	for k := 1; k <= nUPS; k++ {
		code := fmt.Sprintf("%s-UPS-%02d", city, 2*(num-1)+k)
		positions := []int{1, 2, 3, 4, 5, 6}
		if nUPS == 2 {
			positions = []int{1, 2, 3}
		}
		b.buildSystem(site, code, physics.SystemUPS, k, positions)
	}
	b.buildSystem(site, fmt.Sprintf("%s-REC-%02d", city, num), physics.SystemRectifier, 1, []int{1, 2, 3})

	// Environmental sensors: 2-4 per site, the first a combined sensor in
	// Battery Room A.
	n := intBetween(r, 2, 4)
	zones := slices.Clone(sensorZones)
	r.Shuffle(len(zones), func(i, j int) { zones[i], zones[j] = zones[j], zones[i] })
	for i := 1; i <= n; i++ {
		code := fmt.Sprintf("%s-ENV-%02d", d.code, i)
		s := &Sensor{
			ID:         b.ids.id("environmental_sensor", code),
			LocationID: site.ID,
			Code:       code,
			SensorType: SensorCombined,
			Zone:       "Battery Room A",
			IsActive:   true,
		}
		if i > 1 {
			z := zones[i-2]
			s.Zone = z.zone
			s.SensorType = []string{SensorTemperature, SensorHumidity, SensorCombined}[weighted(r, []float64{0.45, 0.15, 0.40})]
			s.OffsetC = round(z.offset+0.4*r.NormFloat64(), 2)
		}
		b.f.Sensors = append(b.f.Sensors, s)
	}
}

func (b *builder) buildSystem(site *Site, code string, kind physics.SystemType, k int, positions []int) {
	r := rngOf(b.root, "battery_system", code)
	sys := &System{
		ID:         b.ids.id("battery_system", code),
		LocationID: site.ID,
		Code:       code,
		IsActive:   true,
		Kind:       kind,
	}
	short := strings.TrimSuffix(site.Name, " Data Center")
	var prod product
	var weights [3]float64
	installed := addDays(site.CommissionedDate, intBetween(r, 0, 30))
	if kind == physics.SystemUPS {
		sys.SystemType = SystemUPS
		sys.Name = fmt.Sprintf("%s UPS %s", short, code[len(code)-2:])
		prod = upsProducts[r.IntN(len(upsProducts))]
		weights = upsModelWeights
		// A second UPS is either part of the original build or a later
		// expansion (half a year to four years on).
		if k == 2 && r.Float64() < 0.5 {
			installed = addDays(site.CommissionedDate, intBetween(r, 180, 1500))
		}
	} else {
		sys.SystemType = SystemRectifier
		sys.Name = fmt.Sprintf("%s Rectifier Bank %s", short, code[len(code)-2:])
		prod = recProducts[r.IntN(len(recProducts))]
		weights = recModelWeights
	}
	if installed.After(b.latest) {
		installed = b.latest
	}
	if !installed.Before(b.end) {
		return // not installed yet at End (nor its strings)
	}
	sys.Manufacturer = prod.manufacturer
	sys.Model = prod.model
	sys.RatedPowerKVA = prod.kva[r.IntN(len(prod.kva))]
	sys.InstalledDate = installed
	sys.CreatedAt = officeTime(installed, r)
	sys.UpdatedAt = sys.CreatedAt
	sys.RectifierWear = round(math.Min(1, Horizon.Sub(installed).Hours()/(15*365.25*24)), 4)
	if sys.CreatedAt.After(site.UpdatedAt) {
		site.UpdatedAt = sys.CreatedAt // the site row changes when a system is added
	}
	b.f.Systems = append(b.f.Systems, sys)

	model := b.f.Models[weighted(r, weights[:])]
	// Discharge current per string on battery (vrla-physics.md): a UPS
	// string is sized for 5-15 min at full load, so at 30-50 % load it runs
	// at roughly 1-3 C; rectifier (telecom DC) banks at C/10-C/5.
	if kind == physics.SystemUPS {
		sys.LoadA = round(uniform(r, 1.0, 2.5)*model.CapacityAh, 1)
	} else {
		sys.LoadA = round(uniform(r, 0.1, 0.2)*model.CapacityAh, 1)
	}
	for _, pos := range positions {
		b.buildString(site, sys, model, pos)
	}
}

func (b *builder) buildString(site *Site, sys *System, model *BatteryModel, pos int) {
	code := fmt.Sprintf("%s-S%d", sys.Code, pos)
	r := rngOf(b.root, "string", code)
	installed := addDays(sys.InstalledDate, r.IntN(3))
	if installed.After(b.latest) {
		installed = b.latest
	}
	if !installed.Before(b.end) {
		return // not installed yet at End
	}
	st := &String{
		ID:             b.ids.id("string", code),
		SystemID:       sys.ID,
		Code:           code,
		Position:       pos,
		BatteriesCount: jarsPerString,
		NominalV:       jarsPerString * model.NominalV,
		InstalledDate:  installed,
		IsActive:       true,
		CreatedAt:      officeTime(installed, r),
		LocationID:     site.ID,
		ModelID:        model.ID,
	}
	st.UpdatedAt = st.CreatedAt
	// Charger float trim per block: ±40 mV around mid band, and one string
	// in ten set 80-200 mV high (a misconfigured or uncompensated charger:
	// estimate), which ages its jars faster (physics.Stress).
	st.FloatTrimV = round(uniform(r, -0.04, 0.04), 3)
	if r.Float64() < 0.1 {
		st.FloatTrimV = round(uniform(r, 0.08, 0.2), 3)
	}
	b.f.Strings = append(b.f.Strings, st)

	// The first 24 jars come from one manufacturing batch: same date,
	// consecutive serials.
	batch := batchInfo{
		made:   addDays(installed, -intBetween(r, 21, 150)),
		serial: 100000 + r.IntN(800000),
	}
	first := len(b.f.Batteries)
	o := &opsSim{b: b, st: st, sys: sys, site: site, model: model, clim: site.Climate, batch: batch,
		seed: seedOf(b.root, "string-ops", code)}
	for p := 1; p <= jarsPerString; p++ {
		o.newJar(p, 0, installed, nil)
	}
	o.run()
	setOperatorStatus(b.f.Batteries[first:], b.end)
}

type batchInfo struct {
	made   time.Time
	serial int
}

func serialNumber(prefix string, made time.Time, n int) string {
	y, w := made.ISOWeek()
	return fmt.Sprintf("%s%02d%02d-%06d", prefix, y%100, w, n)
}

// newJar creates generation gen of slot pos of st, installed on day
// installed (replacing prev, if any). Its draws come from (slot, gen)
// only; when it leaves is for the string's operations to decide (ops.go).
func (b *builder) newJar(st *String, sys *System, model *BatteryModel, pos, gen int, installed time.Time, clim physics.Climate, batch batchInfo, prev *Battery) *Battery {
	slot := fmt.Sprintf("%s-J%d", st.Code, pos)
	js := physics.Mix(seedOf(b.root, "jar", slot), uint64(gen))
	prefix := modelDefs[slices.IndexFunc(modelDefs[:], func(d modelDef) bool { return d.spec.Name == model.Name })].serialPrefix
	life := physics.DrawJarLife(physics.Mix(js, 2), model.Spec, b.mix, installed, jarStress(st, sys, model, clim, installed))
	r := physics.NewRand(physics.Mix(js, 3))
	code := slot
	if gen > 0 {
		code = fmt.Sprintf("%s-R%d", slot, gen)
	}
	jar := &Battery{
		ID:                 b.ids.id("battery", code),
		StringID:           st.ID,
		ModelID:            model.ID,
		Code:               code,
		Position:           pos,
		InstalledDate:      installed,
		WarrantyExpiryDate: installed.AddDate(model.WarrantyYears, 0, 0),
		// Nobody measures a jar's capacity at commissioning: the record
		// holds the rated value. The ohmic baseline is measured per jar
		// (handheld tester, ~1.5 %, 1 σ).
		InitialCapacityAh:     model.CapacityAh,
		InitialResistanceMOhm: round(life.R0mOhm*(1+0.015*r.NormFloat64()), 3),
		CreatedAt:             officeTime(installed, r),
		LocationID:            st.LocationID,
		SystemID:              sys.ID,
		Slot:                  slot,
		Generation:            gen,
		Life:                  life,
	}
	if gen == 0 {
		jar.ManufactureDate = batch.made
		jar.SerialNumber = serialNumber(prefix, batch.made, batch.serial+pos)
	} else {
		// A replacement comes from stock: made weeks to months earlier.
		jar.ManufactureDate = addDays(installed, -intBetween(r, 14, 240))
		jar.SerialNumber = serialNumber(prefix, jar.ManufactureDate, 100000+r.IntN(900000))
	}
	jar.UpdatedAt = jar.CreatedAt
	jar.ohmicZ = r.NormFloat64() // noise of the operator's latest ohmic reading
	if prev != nil {
		id := prev.ID
		jar.ReplacementOf = &id
		prev.UpdatedAt = jar.CreatedAt // replaced in the same work order
		prev.Status = StatusReplaced
		rd := installed
		prev.ReplacedDate = &rd
	}
	b.f.Batteries = append(b.f.Batteries, jar)
	return jar
}

// jarStress is the mean ageing stress of a jar installed at t in string st
// (physics.StringStress): the room, the HVAC faults, the system's load and
// outages, the string's float trim, and the ripple of its charger at its
// wear five years on (the middle of a jar's design life).
func jarStress(st *String, sys *System, model *BatteryModel, clim physics.Climate, t time.Time) physics.Stress {
	wear := math.Min(1, math.Max(0, t.AddDate(5, 0, 0).Sub(sys.InstalledDate).Hours()/(15*365.25*24)))
	return physics.StringStress(physics.StringConfig{System: sys.Kind, Jars: st.BatteriesCount, Spec: model.Spec,
		LoadA: sys.LoadA, RectifierWear: wear, FloatTrimV: st.FloatTrimV}, clim)
}

// setOperatorStatus gives the jars of one string in service at End the
// operator's view of them, from what the operator can observe, never from
// the hidden SOH: the latest ohmic reading (true resistance with a handheld
// tester's 1 % noise) compared with the string's other jars, as ohmic
// practice does (a jar 20 % above its string's mean: warning; 35 %:
// critical), the replace level of +50 % over its own commissioning
// baseline (vrla-physics.md), and a sudden failure, which the telemetry
// shows. Comparing with peers rather than with the baseline alone keeps a
// uniformly aged string from being flagged jar by jar: with the seed's
// +5 %/yr, every healthy jar passes +20 % after about four years.
func setOperatorStatus(jars []*Battery, at time.Time) {
	var sum float64
	var n int
	reading := func(b *Battery) float64 { return b.Life.ResistanceMOhm(at) * (1 + 0.01*b.ohmicZ) }
	for _, b := range jars {
		if b.Removed.IsZero() && !b.Life.Failed(at) {
			sum += reading(b)
			n++
		}
	}
	for _, b := range jars {
		if !b.Removed.IsZero() {
			continue
		}
		r := reading(b)
		peer := 1.0
		if n > 0 {
			peer = r / (sum / float64(n))
		}
		switch {
		case !b.FlaggedAt.IsZero() || b.Life.Failed(at) || peer >= 1.35 || r/b.InitialResistanceMOhm >= 1.5:
			b.Status = StatusCritical
		case peer >= 1.20:
			b.Status = StatusWarning
		default:
			b.Status = StatusActive
		}
	}
}

// buildUsers creates the users of all nine sites in canonical order (so
// names and ids do not depend on the selection) with hire and deactivation
// dates drawn against Horizon (so they do not depend on End either). It
// keeps the users whose account exists at End (CreatedAt before End): the
// fleet-wide admins and viewers, and the staff of the included sites that
// exist at End (a site's staff hired before its commissioning appear with
// it). A deactivation on or after End has not happened yet: the user is
// active at End, with UpdatedAt = CreatedAt. Admins and fleet viewers list
// the sites built (those existing at End).
func (b *builder) buildUsers(comm [len(siteDefs)]time.Time, include []bool) {
	r := rngOf(b.root, "users")
	taken := map[string]bool{}
	newUser := func(role string) *User {
		for {
			g, fam := givenNames[r.IntN(len(givenNames))], familyNames[r.IntN(len(familyNames))]
			email := strings.ToLower(g+"."+fam) + "@" + emailDomain
			if taken[email] {
				continue
			}
			taken[email] = true
			return &User{ID: b.ids.id("user", email), Email: email, Name: g + " " + fam, Role: role, IsActive: true}
		}
	}
	var all []uuid.UUID
	for _, s := range b.f.Sites {
		all = append(all, s.ID)
	}
	// The monitoring platform went live a month before the first site.
	golive := slices.MinFunc(comm[:], func(a, c time.Time) int { return a.Compare(c) })
	golive = addDays(golive, -30)
	for _, role := range []string{RoleAdmin, RoleAdmin, RoleViewer, RoleViewer} {
		u := newUser(role)
		u.LocationIDs = slices.Clone(all)
		u.CreatedAt = officeTime(addDays(golive, r.IntN(7)), r)
		u.UpdatedAt = u.CreatedAt
		if u.CreatedAt.Before(b.end) {
			b.f.Users = append(b.f.Users, u)
		}
	}
	lastHire := addDays(Horizon, -30)
	for i, d := range siteDefs {
		engineers := 1 + boolInt(r.Float64() < 0.7)
		operators := 2 + boolInt(r.Float64() < 0.3)
		viewers := r.IntN(2)
		roles := slices.Repeat([]string{RoleEngineer}, engineers)
		roles = append(roles, slices.Repeat([]string{RoleOperator}, operators)...)
		roles = append(roles, slices.Repeat([]string{RoleViewer}, viewers)...)
		for _, role := range roles {
			u := newUser(role)
			// Hired before commissioning, or later (staff turnover).
			created := addDays(comm[i], -intBetween(r, 7, 45))
			if r.Float64() < 0.4 && lastHire.After(comm[i]) {
				created = comm[i].Add(time.Duration(r.Float64() * float64(lastHire.Sub(comm[i])))).Truncate(oneDay)
			}
			u.CreatedAt = officeTime(created, r)
			u.UpdatedAt = u.CreatedAt
			// Some site viewers are deactivated (by the day before the
			// horizon; at End only if that day is before End).
			if role == RoleViewer && r.Float64() < 0.3 {
				span := addDays(Horizon, -1).Sub(u.CreatedAt.Add(30 * oneDay))
				if span > 0 {
					off := officeTime(u.CreatedAt.Add(30*oneDay+time.Duration(r.Float64()*float64(span))), r)
					if off.Before(b.end) {
						u.IsActive = false
						u.UpdatedAt = off
					}
				}
			}
			if include[i] && comm[i].Before(b.end) && u.CreatedAt.Before(b.end) {
				u.LocationIDs = []uuid.UUID{b.ids.id("location", d.code)}
				b.f.Users = append(b.f.Users, u)
			}
		}
	}
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// buildMLModels registers the models later stages use. Training dates are
// placeholders relative to the end (trained 50 days before it on the year
// before that); a training stage may overwrite them and the metrics. Unlike
// the rest of the fleet these rows describe the registry as of End (the
// models in production then), so their dates move with End; their draws
// (offsets, hyperparameters) do not. The registry exists once an admin does
// (created_by): an End before the platform went live has none.
func (b *builder) buildMLModels() {
	admins := b.f.Admins()
	if len(admins) == 0 {
		return
	}
	admin := admins[0].ID
	r := rngOf(b.root, "ml_model")
	defs := []struct {
		name, typ, hyper string
		features         []string
	}{
		{"rul-gbm", MLCatboostRUL,
			`{"depth":6,"iterations":2000,"l2_leaf_reg":3,"learning_rate":0.05,"loss_function":"RMSE","random_seed":%d}`, rulFeatures},
		{"anomaly-iforest", MLAnomalyIForest,
			`{"contamination":0.01,"max_features":1.0,"max_samples":256,"n_estimators":200,"random_seed":%d}`, anomalyFeatures},
		{"survival-weibull", MLSurvival,
			`{"baseline":"weibull","l2_penalty":0.01,"max_iter":500,"random_seed":%d}`, survivalFeatures},
	}
	for _, d := range defs {
		const version = "1.0.0"
		dataStart := addDays(b.end, -415)
		dataEnd := addDays(b.end, -50)
		trained := officeTime(addDays(dataEnd, intBetween(r, 0, 2)), r)
		promoted := officeTime(addDays(trained, intBetween(r, 3, 10)), r)
		var fl bytes.Buffer
		fl.WriteByte('[')
		for i, f := range d.features {
			if i > 0 {
				fl.WriteByte(',')
			}
			fmt.Fprintf(&fl, "%q", f)
		}
		fl.WriteByte(']')
		b.f.MLModels = append(b.f.MLModels, &MLModel{
			ID:                  b.ids.id("ml_model", d.name+"/"+version),
			Name:                d.name,
			ModelType:           d.typ,
			Version:             version,
			Status:              MLProduction,
			TrainedAt:           &trained,
			PromotedAt:          &promoted,
			ArtifactURL:         "models/" + d.name + "/" + version + "/",
			HyperparametersJSON: fmt.Sprintf(d.hyper, seedOf(b.root, "ml_model", d.name)>>40),
			MetricsJSON:         "{}",
			FeatureListJSON:     fl.String(),
			TrainingDataStart:   &dataStart,
			TrainingDataEnd:     &dataEnd,
			CreatedBy:           admin,
		})
	}
}

func (b *builder) index() {
	f := b.f
	slices.SortFunc(f.Batteries, func(x, y *Battery) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	f.ModelByID = make(map[uuid.UUID]*BatteryModel, len(f.Models))
	for _, m := range f.Models {
		f.ModelByID[m.ID] = m
	}
	f.SiteByID = make(map[uuid.UUID]*Site, len(f.Sites))
	f.SiteByCode = make(map[string]*Site, len(f.Sites))
	for _, s := range f.Sites {
		f.SiteByID[s.ID] = s
		f.SiteByCode[s.Code] = s
	}
	f.SystemByID = make(map[uuid.UUID]*System, len(f.Systems))
	for _, s := range f.Systems {
		f.SystemByID[s.ID] = s
	}
	f.StringByID = make(map[uuid.UUID]*String, len(f.Strings))
	for _, s := range f.Strings {
		f.StringByID[s.ID] = s
	}
	f.BatteryByID = make(map[uuid.UUID]*Battery, len(f.Batteries))
	f.BatteryByCode = make(map[string]*Battery, len(f.Batteries))
	f.jarsByString = make(map[uuid.UUID][]*Battery, len(f.Strings))
	for _, x := range f.Batteries {
		f.BatteryByID[x.ID] = x
		f.BatteryByCode[x.Code] = x
		f.jarsByString[x.StringID] = append(f.jarsByString[x.StringID], x)
	}
	for _, js := range f.jarsByString {
		slices.SortFunc(js, func(x, y *Battery) int {
			if x.Position != y.Position {
				return x.Position - y.Position
			}
			return x.Generation - y.Generation
		})
	}
	f.SensorByID = make(map[uuid.UUID]*Sensor, len(f.Sensors))
	for _, s := range f.Sensors {
		f.SensorByID[s.ID] = s
	}
	f.UserByID = make(map[uuid.UUID]*User, len(f.Users))
	for _, u := range f.Users {
		f.UserByID[u.ID] = u
	}
	f.MLModelByID = make(map[uuid.UUID]*MLModel, len(f.MLModels))
	for _, m := range f.MLModels {
		f.MLModelByID[m.ID] = m
	}
}
