package fleet

import "github.com/battlake/battlake/physics"

// This file holds the fixed catalogue the fleet is drawn from: the nine
// sites of the seed (section 2.1 sample values), the battery models, the
// UPS/rectifier products and the name lists for users. Everything random is
// drawn in fleet.go from the root seed; nothing here depends on it.

// siteDef is one site of the seed's fleet with its climate defaults.
type siteDef struct {
	code, name, region, city string
	lat, lon                 float64 // city coordinates, 7 decimals
	// climate (see physics.Climate). Outdoor means are annual means of the
	// city (TMD 1991-2020 normals, rounded; the north and northeast are
	// cooler in the cool season and have the larger seasonal and daily
	// swing, the south the smallest). The room setpoint is the site's HVAC
	// policy (22-27 °C): BKK-01 runs cold, Surat Thani and Hat Yai warm, so
	// jars there age faster (physics.AgingFactor).
	outdoorMean, seasonAmp, dailyAmp float64
	// humidity is the battery room's humidity setpoint: conditioned rooms
	// hold 40-60 % RH (ASHRAE recommended envelope; vrla-physics.md), the
	// humid south a little higher.
	humidity float64
	coupling float64 // °C of room drift per 10 °C outdoor excess
	setpoint float64
}

// siteDefs is the canonical order of the fleet (north to south).
var siteDefs = [...]siteDef{
	{"DC-CNX-01", "Chiang Mai Data Center", "northern", "Chiang Mai", 18.7883439, 98.9853008, 26.8, 4.5, 6.0, 48, 1.0, 24.0},
	{"DC-KKC-01", "Khon Kaen Data Center", "northeastern", "Khon Kaen", 16.4419355, 102.8359921, 27.3, 4.0, 5.0, 47, 1.2, 25.0},
	{"DC-NTB-01", "Nonthaburi Data Center", "central", "Nonthaburi", 13.8621125, 100.5143528, 28.5, 2.8, 4.0, 50, 0.8, 23.0},
	{"DC-BKK-01", "Bangrak Data Center", "central", "Bangkok", 13.7307736, 100.5238887, 28.8, 2.6, 3.8, 52, 0.6, 22.0},
	{"DC-BKK-02", "Phrakhanong Data Center", "central", "Bangkok", 13.7022542, 100.6019687, 28.7, 2.6, 3.8, 50, 1.0, 25.5},
	{"DC-SRI-01", "Sriracha Data Center", "eastern", "Sriracha", 13.1737648, 100.9311360, 28.4, 2.2, 3.5, 51, 1.1, 26.0},
	{"DC-URT-01", "Surat Thani Data Center", "southern", "Surat Thani", 9.1382389, 99.3217483, 27.6, 1.8, 4.0, 54, 1.4, 27.0},
	{"DC-HKT-01", "Phuket Data Center", "southern", "Phuket", 7.8804479, 98.3922504, 28.1, 1.2, 3.0, 53, 0.9, 24.5},
	{"DC-HDY-01", "Hat Yai Data Center", "southern", "Hat Yai", 7.0086300, 100.4746800, 27.9, 1.5, 3.5, 55, 1.3, 26.5},
}

// modelDef is a battery model with the catalogue data that is not part of
// physics.ModelSpec.
type modelDef struct {
	spec          physics.ModelSpec
	datasheet     string
	serialPrefix  string
	warrantyYears int
}

// modelDefs are the fleet's 12 V AGM VRLA blocks. HX12-120 is the seed's
// example (section 2.2); R0 follows the reference's estimates (100 Ah:
// 3.5-5 mΩ, 150 Ah: 2.5-3.5 mΩ); max charge current is 0.3 C. The Peukert
// exponent is the effective one between the C10 and high rates that AGM
// datasheets imply (vrla-physics.md: C3/C10 ~0.75-0.80, 15 min near half
// of C10: ~1.2-1.3); physics raises it with age. Manufacturer
// names and datasheet hosts are fictional (.example, RFC 2606).
var modelDefs = [...]modelDef{
	{physics.ModelSpec{
		Name: "HX12-100", Manufacturer: "Haixing Power Technology Co., Ltd.",
		CapacityAh: 100, NominalV: 12, FloatMinV: 13.50, FloatMaxV: 13.80, BoostMinV: 14.40, BoostMaxV: 14.70,
		MaxChargeA: 30, TempWarnC: 45, TempCritC: 50, ExpectedLifeYears: 10, R0mOhm: 3.8, Peukert: 1.24,
	}, "https://www.haixing-power.example/datasheets/HX12-100.pdf", "HXA", 2},
	{physics.ModelSpec{
		Name: "HX12-120", Manufacturer: "Haixing Power Technology Co., Ltd.",
		CapacityAh: 120, NominalV: 12, FloatMinV: 13.50, FloatMaxV: 13.80, BoostMinV: 14.40, BoostMaxV: 14.70,
		MaxChargeA: 36, TempWarnC: 45, TempCritC: 50, ExpectedLifeYears: 10, R0mOhm: 3.0, Peukert: 1.25,
	}, "https://www.haixing-power.example/datasheets/HX12-120.pdf", "HXB", 3},
	{physics.ModelSpec{
		Name: "HR12-150", Manufacturer: "Siam Reliance Battery Co., Ltd.",
		CapacityAh: 150, NominalV: 12, FloatMinV: 13.50, FloatMaxV: 13.80, BoostMinV: 14.40, BoostMaxV: 14.70,
		MaxChargeA: 45, TempWarnC: 45, TempCritC: 50, ExpectedLifeYears: 10, R0mOhm: 2.6, Peukert: 1.23,
	}, "https://www.siamreliance.example/docs/HR12-150-datasheet.pdf", "SRC", 3},
}

// Model choice weights per system type, indexes into modelDefs.
var (
	upsModelWeights = [3]float64{0.15, 0.50, 0.35}
	recModelWeights = [3]float64{0.45, 0.45, 0.10}
)

// product is a UPS or rectifier product line.
type product struct {
	manufacturer, model string
	kva                 []float64
}

// Real vendor names with plausible product lines; the 288 V DC systems are
// generic high-voltage-DC rectifier banks.
var (
	upsProducts = []product{
		{"Schneider Electric", "Galaxy VX", []float64{500, 750}},
		{"Vertiv", "Liebert EXL S1", []float64{400, 600}},
		{"Eaton", "93PM", []float64{200, 300, 400}},
		{"Huawei", "UPS5000-E", []float64{200, 400, 600}},
		{"Delta Electronics", "Modulon DPH", []float64{200, 300, 500}},
	}
	recProducts = []product{
		{"Vertiv", "NetSure HVDC 288", []float64{60, 100, 150}},
		{"Delta Electronics", "DPS-288 HVDC Rectifier System", []float64{60, 120}},
		{"Eltek", "Flatpack S HVDC", []float64{50, 100}},
		{"Huawei", "TP288 HVDC Power System", []float64{80, 160}},
	}
)

// sensorZones are the rooms environmental sensors sit in; the first sensor
// of a site is always a combined sensor in Battery Room A. offset is the
// mean placement offset (°C) relative to the battery room.
var sensorZones = []struct {
	zone   string
	offset float64
}{
	{"Battery Room B", 0.0},
	{"UPS Room", 1.5},
	{"Rectifier Room", 1.0},
}

// emailDomain is the fictional operator's mail domain.
const emailDomain = "siamdc.co.th"

// Romanised Thai given names and family names.
var (
	givenNames = []string{
		"Somchai", "Somsak", "Anan", "Kittipong", "Nattapong", "Chaiwat", "Wichai", "Prasert",
		"Suriya", "Thanawat", "Apichart", "Pongsak", "Ekkachai", "Jirawat", "Kritsada", "Sakda",
		"Teerapong", "Wuttichai", "Narong", "Sombat", "Siriporn", "Kanokwan", "Suda", "Pimchanok",
		"Nattaya", "Wanida", "Ratana", "Jintana", "Supaporn", "Duangjai", "Malee", "Arunee",
		"Pornthip", "Sasithorn", "Kannika", "Thitima", "Chutima", "Benjawan", "Orathai", "Patcharee",
	}
	familyNames = []string{
		"Srisuk", "Wongsawat", "Chaiyaporn", "Rattanakul", "Suwannarat", "Thongchai", "Kaewmanee",
		"Boonmee", "Sukprasert", "Phromsiri", "Charoenrat", "Saetang", "Jantarasri", "Intharasombat",
		"Pattanakit", "Kongkaew", "Siriwong", "Chantarasombat", "Thammasiri", "Wattanapong",
		"Nakprasit", "Ruangsri", "Somboon", "Meesuk", "Yodkhao", "Panyawong", "Sangthong",
		"Khamwong", "Buranasiri", "Limpakorn", "Ketkaew", "Sawangwong",
	}
)

// feature lists of the ML models: feature_store columns (seed 5.5) plus the
// jar's age.
var (
	rulFeatures = []string{
		"v_mean", "v_std", "v_min", "v_max", "v_balance_mean", "t_mean", "t_max",
		"t_delta_ambient_mean", "r_internal_latest", "r_internal_baseline_pct",
		"discharge_cycles_count", "ah_throughput", "time_below_float_min", "time_above_float_min",
		"surge_events_count", "ripple_rms_mean", "thd_mean", "age_days",
	}
	anomalyFeatures = []string{
		"v_mean", "v_std", "v_balance_mean", "t_mean", "t_max", "t_delta_ambient_mean",
		"r_internal_latest", "r_internal_baseline_pct", "ripple_rms_mean", "thd_mean",
	}
	survivalFeatures = []string{
		"age_days", "r_internal_baseline_pct", "t_mean", "t_delta_ambient_mean",
		"v_balance_mean", "discharge_cycles_count", "ah_throughput",
	}
)
