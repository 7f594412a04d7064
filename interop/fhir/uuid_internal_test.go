package fhir

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUUID5 checks the name-based UUIDs against RFC 9562's example
// (appendix A.4: "www.example.com" in the DNS namespace).
func TestUUID5(t *testing.T) {
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	require.Equal(t, "2ed6657d-e927-568b-95e1-2665a8aea6a2", uuid5(dns, "www.example.com"))
	require.Equal(t, resourceUUID("Observation", "x-1"), resourceUUID("Observation", "x-1"), "stable")
	require.NotEqual(t, resourceUUID("Observation", "x-1"), resourceUUID("Procedure", "x-1"))
	id := "0190a6f0-8a4b-7c3d-9e2f-0123456789ab"
	require.Equal(t, id, resourceUUID("Patient", id))
	require.NotEqual(t, id, resourceUUID("Task", id), "the Task does not take the ServiceRequest's UUID")
}
