package features

import (
	"strings"

	"github.com/google/uuid"
)

// StringRef, SystemRef and SensorRef are the master columns RoomSensors
// reads from string, battery_system and environmental_sensor.
type (
	StringRef struct{ ID, SystemID uuid.UUID }
	SystemRef struct{ ID, LocationID uuid.UUID }
	SensorRef struct {
		ID, LocationID         uuid.UUID
		Code, Zone, SensorType string
		IsActive               bool
	}
)

// RoomSensors maps each string to the temperature sensor of its battery
// room: string → battery_system → location, then among the location's
// active sensors that measure temperature (sensor_type temperature or
// combined) in a zone named "Battery Room ...", the first by (zone,
// sensor_code). The synthesized fleet always has a combined sensor in
// "Battery Room A". Strings whose site has no such sensor are left out.
func RoomSensors(strs []StringRef, systems []SystemRef, sensors []SensorRef) map[uuid.UUID]uuid.UUID {
	loc := make(map[uuid.UUID]uuid.UUID, len(systems))
	for _, s := range systems {
		loc[s.ID] = s.LocationID
	}
	best := map[uuid.UUID]*SensorRef{}
	for i := range sensors {
		s := &sensors[i]
		if !s.IsActive || s.SensorType == "humidity" || !strings.HasPrefix(strings.ToLower(s.Zone), "battery room") {
			continue
		}
		if b, ok := best[s.LocationID]; !ok || s.Zone < b.Zone || (s.Zone == b.Zone && s.Code < b.Code) {
			best[s.LocationID] = s
		}
	}
	out := make(map[uuid.UUID]uuid.UUID, len(strs))
	for _, s := range strs {
		if b, ok := best[loc[s.SystemID]]; ok {
			out[s.ID] = b.ID
		}
	}
	return out
}
