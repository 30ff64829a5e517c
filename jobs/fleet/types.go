package fleet

import (
	"time"

	"github.com/battlake/battlake/physics"
	"github.com/google/uuid"
)

// Value conventions (all entities):
//   - Dates (seed DATE) are time.Time at UTC midnight; timestamps (TIMESTAMP
//     and TIMESTAMPTZ) are UTC time.Time. None comes from the wall clock.
//   - A nullable column that this model leaves NULL in some row (an event
//     that has not happened, a value a later stage fills) is a pointer:
//     nil means NULL. Nullable columns that are always known here are plain
//     values.
//   - Decimals are float64, already rounded to the column's scale.
//   - Enum columns are strings holding the seed's literal values.
//   - Fields after the "not columns" marker are model data for the
//     synthesizers; they have no column.

// Enum values.
const (
	SystemUPS       = "UPS"
	SystemRectifier = "RECTIFIER"

	StatusActive   = "active"
	StatusWarning  = "warning"
	StatusCritical = "critical"
	StatusReplaced = "replaced"
	StatusRetired  = "retired"

	SensorTemperature = "temperature"
	SensorHumidity    = "humidity"
	SensorCombined    = "combined"

	RoleAdmin    = "admin"
	RoleEngineer = "engineer"
	RoleOperator = "operator"
	RoleViewer   = "viewer"

	MLCatboostRUL    = "catboost_rul"
	MLAnomalyIForest = "anomaly_iforest"
	MLSurvival       = "survival"

	MLProduction = "production"
	MLStaging    = "staging"
)

// BatteryModel is a battery_model row (seed 2.2).
type BatteryModel struct {
	ID                uuid.UUID
	Name              string // model_name, UNIQUE
	Manufacturer      string
	Chemistry         string // "VRLA"
	NominalV          float64
	CapacityAh        float64
	FloatMinV         float64
	FloatMaxV         float64
	BoostMinV         float64
	BoostMaxV         float64
	MaxChargeA        float64
	TempWarnC         float64
	TempCritC         float64
	ExpectedLifeYears float64
	DatasheetURL      string

	// not columns
	Spec          physics.ModelSpec
	WarrantyYears int // warranty_expiry_date = install + WarrantyYears
}

// Site is a location row (seed 2.1).
type Site struct {
	ID               uuid.UUID
	Code             string // location_code, DC-XXX-NN
	Name             string
	Region           string
	City             string
	Latitude         float64
	Longitude        float64
	Timezone         string // "Asia/Bangkok"
	CommissionedDate time.Time
	IsActive         bool
	CreatedAt        time.Time
	UpdatedAt        time.Time

	// not columns
	Climate physics.Climate
}

// System is a battery_system row (seed 2.3).
type System struct {
	ID            uuid.UUID
	LocationID    uuid.UUID
	Code          string // system_code, DC-XXX-UPS-NN or DC-XXX-REC-NN
	SystemType    string // "UPS" or "RECTIFIER"
	Name          string
	Manufacturer  string
	Model         string
	RatedPowerKVA float64
	InstalledDate time.Time
	IsActive      bool
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// not columns
	Kind physics.SystemType
	// LoadA is the discharge current of each of its strings while on
	// battery (outage, transfer).
	LoadA float64
	// RectifierWear in [0,1]: the charger's age at Horizon over 15 years
	// (ripple grows with it). It is a fixed property of the system, not its
	// wear at the scenario end; the telemetry computes the wear at each
	// instant from the time and InstalledDate.
	RectifierWear float64
}

// String is a string row (seed 2.4).
type String struct {
	ID             uuid.UUID
	SystemID       uuid.UUID
	Code           string // string_code, <system code>-S<position>
	Position       int    // UPS 1-6 (1-3 per UPS when a site has two), rectifier 1-3
	BatteriesCount int    // 24
	NominalV       float64
	InstalledDate  time.Time
	// LastCapacityTestDate is filled by the maintenance stage; nil here.
	LastCapacityTestDate *time.Time
	IsActive             bool
	CreatedAt            time.Time
	UpdatedAt            time.Time

	// not columns
	LocationID uuid.UUID
	ModelID    uuid.UUID // every jar of the string is this model
	// FloatTrimV is the string charger's float setting above the model's
	// mid-band value, per block (mostly ±40 mV; a misconfigured charger
	// higher: an ageing stressor).
	FloatTrimV float64
	// Tests are the string's capacity tests to End (ops.go), Findings the
	// swollen cases its inspections reported (some wrong).
	Tests    []CapTest
	Findings []Finding
}

// Battery is a battery row (seed 2.5): one jar, from its install to its
// replacement (or the scenario end). Everything but Status, ReplacedDate,
// UpdatedAt and Removed (the state as of End) is the same for every End
// after its install.
type Battery struct {
	ID       uuid.UUID
	StringID uuid.UUID
	ModelID  uuid.UUID
	// Code is <string code>-J<position> for the first jar of a slot and
	// <slot>-R<generation> for its replacements (battery_code is UNIQUE).
	Code               string
	SerialNumber       string
	Position           int // 1-24
	ManufactureDate    time.Time
	InstalledDate      time.Time
	WarrantyExpiryDate time.Time
	// InitialCapacityAh is the rated capacity (nobody measures a jar's
	// capacity at commissioning); InitialResistanceMOhm the commissioning
	// ohmic reading (true value plus instrument noise).
	InitialCapacityAh     float64 // 2 decimals
	InitialResistanceMOhm float64 // 3 decimals
	Status                string
	ReplacementOf         *uuid.UUID // the previous jar of the slot
	ReplacedDate          *time.Time // when this jar was replaced; nil if in service at End
	CreatedAt             time.Time
	UpdatedAt             time.Time

	// not columns
	LocationID uuid.UUID
	SystemID   uuid.UUID
	Slot       string // <string code>-J<position>, shared by all generations
	Generation int    // 0 for the first jar of the slot
	// Removed is the day the jar left the string (= *ReplacedDate); zero if
	// it is in service at the scenario end (also when a build to a later
	// End removes it on or after this End).
	Removed time.Time
	// Life is the hidden truth of the jar's degradation.
	Life physics.JarLife
	// RemovalReason, FlaggedAt and Evidence record what the operator
	// observed that got the jar replaced (ops.go), when a replacement was
	// ordered before End; empty otherwise.
	RemovalReason string
	FlaggedAt     time.Time
	Evidence      string

	ohmicZ float64 // noise draw of the operator's latest ohmic reading
}

// ActiveOn reports whether the jar is in its string on day (UTC):
// InstalledDate <= day < Removed.
func (b *Battery) ActiveOn(day time.Time) bool {
	d := truncDay(day)
	return !b.InstalledDate.After(d) && (b.Removed.IsZero() || d.Before(b.Removed))
}

// Sensor is an environmental_sensor row (seed 2.6).
type Sensor struct {
	ID         uuid.UUID
	LocationID uuid.UUID
	Code       string // <location code>-ENV-NN
	SensorType string // temperature, humidity or combined
	Zone       string
	IsActive   bool

	// not columns
	// OffsetC is the sensor's mean temperature offset from the battery
	// room (placement: UPS and rectifier rooms run warmer).
	OffsetC float64
}

// User is a user row (seed 2.7).
type User struct {
	ID          uuid.UUID
	Email       string // firstname.lastname@siamdc.co.th, UNIQUE
	Name        string
	Role        string
	LocationIDs []uuid.UUID // admins and fleet viewers: every site built; field staff: their site
	IsActive    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// MLModel is an ml_model row (seed 2.8).
type MLModel struct {
	ID                  uuid.UUID
	Name                string
	ModelType           string
	Version             string
	Status              string
	TrainedAt           *time.Time
	PromotedAt          *time.Time
	RetiredAt           *time.Time
	ArtifactURL         string // relative object key prefix, e.g. models/rul-gbm/1.0.0/
	HyperparametersJSON string
	MetricsJSON         string // "{}" until a training stage fills it
	FeatureListJSON     string
	TrainingDataStart   *time.Time
	TrainingDataEnd     *time.Time
	CreatedBy           uuid.UUID
}
