package jobs

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Master data (phase 1): one unpartitioned file per table, straight from
// the deterministic fleet model, plus truth_battery (the hidden life of
// every jar) under _truth/. Each table is a function of the fleet alone:
// the family needs no state beyond the Env. Rows are written in id order,
// every master table's SortBy (ingest writes the same order, so an
// exported master table ingests back to the same bytes).

func masterJobs(e *Env) []pipeline.Job {
	tables := []struct {
		name string
		emit func(f *fleet.Fleet, s *RowSink) error
	}{
		{"location", emitLocations},
		{"battery_model", emitBatteryModels},
		{"battery_system", emitSystems},
		{"string", emitStrings},
		{"battery", emitBatteries},
		{"environmental_sensor", emitSensors},
		{"user", emitUsers},
		{"truth_battery", emitTruthBattery},
	}
	var jobs []pipeline.Job
	for _, x := range tables {
		t := schema.MustLookup(x.name)
		emit := x.emit
		jobs = append(jobs, &pipeline.FuncJob{JobName: t.Name, StageName: "master", Out: []*schema.Table{t},
			PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
				p := lake.MustPartition(t, "", -1)
				return []pipeline.Task{rowTask(e, t.Name, p, 1000, []lake.Segment{e.snapshotSegment()},
					func(_ context.Context, s *RowSink, _ lake.Segment) error { return emit(e.Fleet, s) })}, nil
			}})
	}
	return jobs
}

// byID returns xs in the order of their ids' bytes.
func byID[T any](xs []T, id func(T) uuid.UUID) []T {
	out := slices.Clone(xs)
	slices.SortFunc(out, func(a, b T) int { x, y := id(a), id(b); return bytes.Compare(x[:], y[:]) })
	return out
}

func datePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

func emitLocations(f *fleet.Fleet, s *RowSink) error {
	for _, x := range byID(f.Sites, func(x *fleet.Site) uuid.UUID { return x.ID }) {
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("location_id", x.ID).Set("location_code", x.Code).Set("location_name", x.Name).
				Set("region", x.Region).Set("city", x.City).Set("latitude", x.Latitude).Set("longitude", x.Longitude).
				Set("timezone", x.Timezone).Set("commissioned_date", x.CommissionedDate).Set("is_active", x.IsActive).
				Set("created_at", x.CreatedAt).Set("updated_at", x.UpdatedAt)
		}); err != nil {
			return err
		}
	}
	return nil
}

func emitBatteryModels(f *fleet.Fleet, s *RowSink) error {
	for _, x := range byID(f.Models, func(x *fleet.BatteryModel) uuid.UUID { return x.ID }) {
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("model_id", x.ID).Set("model_name", x.Name).Set("manufacturer", x.Manufacturer).
				Set("chemistry", x.Chemistry).Set("nominal_voltage_v", x.NominalV).Set("capacity_ah", x.CapacityAh).
				Set("float_voltage_min_v", x.FloatMinV).Set("float_voltage_max_v", x.FloatMaxV).
				Set("boost_voltage_min_v", x.BoostMinV).Set("boost_voltage_max_v", x.BoostMaxV).
				Set("max_charge_current_a", x.MaxChargeA).Set("temp_warning_c", x.TempWarnC).
				Set("temp_critical_c", x.TempCritC).Set("expected_life_years", x.ExpectedLifeYears).
				Set("datasheet_url", x.DatasheetURL)
		}); err != nil {
			return err
		}
	}
	return nil
}

func emitSystems(f *fleet.Fleet, s *RowSink) error {
	for _, x := range byID(f.Systems, func(x *fleet.System) uuid.UUID { return x.ID }) {
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("system_id", x.ID).Set("location_id", x.LocationID).Set("system_code", x.Code).
				Set("system_type", x.SystemType).Set("system_name", x.Name).Set("manufacturer", x.Manufacturer).
				Set("model", x.Model).Set("rated_power_kva", x.RatedPowerKVA).Set("installed_date", x.InstalledDate).
				Set("is_active", x.IsActive).Set("created_at", x.CreatedAt).Set("updated_at", x.UpdatedAt)
		}); err != nil {
			return err
		}
	}
	return nil
}

func emitStrings(f *fleet.Fleet, s *RowSink) error {
	for _, x := range stringsByID(f) {
		last := lastCapacityTest(x)
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("string_id", x.ID).Set("system_id", x.SystemID).Set("string_code", x.Code).
				Set("string_position", x.Position).Set("batteries_count", x.BatteriesCount).
				Set("nominal_voltage_v", x.NominalV).Set("installed_date", x.InstalledDate).
				Set("last_capacity_test_date", datePtr(last)).Set("is_active", x.IsActive).
				Set("created_at", x.CreatedAt).Set("updated_at", x.UpdatedAt)
		}); err != nil {
			return err
		}
	}
	return nil
}

func emitBatteries(f *fleet.Fleet, s *RowSink) error {
	for _, x := range byID(f.Batteries, func(x *fleet.Battery) uuid.UUID { return x.ID }) {
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("battery_id", x.ID).Set("string_id", x.StringID).Set("model_id", x.ModelID).
				Set("battery_code", x.Code).Set("serial_number", x.SerialNumber).
				Set("position_in_string", x.Position).Set("manufacture_date", x.ManufactureDate).
				Set("installed_date", x.InstalledDate).Set("warranty_expiry_date", x.WarrantyExpiryDate).
				Set("initial_capacity_ah", x.InitialCapacityAh).Set("initial_resistance_mohm", x.InitialResistanceMOhm).
				Set("status", x.Status).Set("replacement_of", x.ReplacementOf).Set("replaced_date", datePtr(x.ReplacedDate)).
				Set("created_at", x.CreatedAt).Set("updated_at", x.UpdatedAt)
		}); err != nil {
			return err
		}
	}
	return nil
}

func emitSensors(f *fleet.Fleet, s *RowSink) error {
	for _, x := range sensorsByID(f) {
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("sensor_id", x.ID).Set("location_id", x.LocationID).Set("sensor_code", x.Code).
				Set("sensor_type", x.SensorType).Set("zone", x.Zone).Set("is_active", x.IsActive)
		}); err != nil {
			return err
		}
	}
	return nil
}

func emitUsers(f *fleet.Fleet, s *RowSink) error {
	for _, x := range byID(f.Users, func(x *fleet.User) uuid.UUID { return x.ID }) {
		ids := make([]string, len(x.LocationIDs))
		for i, id := range x.LocationIDs {
			ids[i] = id.String()
		}
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("user_id", x.ID).Set("email", x.Email).Set("name", x.Name).Set("role", x.Role).
				Set("location_ids", ids).Set("is_active", x.IsActive).
				Set("created_at", x.CreatedAt).Set("updated_at", x.UpdatedAt)
		}); err != nil {
			return err
		}
	}
	return nil
}

func emitTruthBattery(f *fleet.Fleet, s *RowSink) error {
	for _, x := range f.Batteries {
		l := &x.Life
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("battery_id", x.ID).Set("profile", l.Profile.String()).Set("installed_date", x.InstalledDate).
				Set("true_capacity_ah0", round(l.Capacity0Ah, 2)).Set("true_resistance_mohm0", round(l.R0mOhm, 3)).
				Set("soh_decline_pct_per_year", round(l.SOHRate*100, 2)).
				Set("resistance_increase_pct_per_year", round(l.RRate*100, 2)).
				Set("aging_factor", round(l.AgingFactor, 3)).Set("eol_date", l.EOL).
				Set("failure_kind", l.Failure.String()).Set("failure_at", l.FailureAt).
				Set("end_of_service_date", l.End).Set("replaced_date", datePtr(x.ReplacedDate))
		}); err != nil {
			return err
		}
	}
	return nil
}
