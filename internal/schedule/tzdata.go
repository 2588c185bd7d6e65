package schedule

// The binary is static (CGO_ENABLED=0) and its image may have no
// /usr/share/zoneinfo: readers' zones and CRIEUR_TIMEZONE must load
// wherever it runs.
import _ "time/tzdata"
